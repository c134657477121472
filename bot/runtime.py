"""Building the long-lived services from the settings; shared by every channel runtime."""

from __future__ import annotations

from datetime import timedelta

from bot.config import Settings
from handlers.context import Services
from models.db import Database
from models.requests import ContactPolicy
from models.search_service import SearchService


def build_services(settings: Settings, db: Database) -> Services:
    contact = settings.contact
    policy = ContactPolicy(
        daily_quota=contact.daily_quota,
        remind_after=timedelta(hours=contact.remind_after_hours),
        expire_after=timedelta(days=contact.expire_after_days),
    )
    admins = settings.admins
    return Services(
        db=db,
        search=SearchService(db),
        policy=policy,
        admin_ids={
            "telegram": frozenset(admins.telegram),
            "zalo_bot": frozenset(admins.zalo),
            "zalo_oa": frozenset(admins.zalo),
            "console": frozenset(admins.console),
        },
        default_language=settings.default_language,
    )
