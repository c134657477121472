"""Building the long-lived services from the settings; shared by every channel runtime."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from datetime import timedelta

from bot.channel import ChannelSpec
from bot.channels import admin_ids, broadcast_channels
from bot.config import Settings
from handlers.context import Services
from models.db import Database
from models.deeplinks import LinkBook, LinkKey
from models.meetings import MeetingPolicy
from models.requests import ContactPolicy
from models.search_service import SearchService


def build_services(settings: Settings, db: Database, channels: Sequence[ChannelSpec] | None = None) -> Services:
    """The services; the admins of each channel (of ``channels``, the registry by default) from ``[admins]``."""
    contact = settings.contact
    policy = ContactPolicy(
        daily_quota=contact.daily_quota,
        remind_after=timedelta(hours=contact.remind_after_hours),
        expire_after=timedelta(days=contact.expire_after_days),
    )
    return Services(
        db=db,
        search=SearchService(db),
        policy=policy,
        admin_ids=admin_ids(settings, channels),
        default_language=settings.default_language,
        flow_ttl=timedelta(hours=settings.conversation.flow_expiry_hours),
        broadcast_channels=broadcast_channels(channels),
        web_url=settings.web.public_url.rstrip("/"),
        links=link_book(settings),
        meetings=MeetingPolicy(quota=settings.meetings.per_person,
                               remind_before=timedelta(minutes=settings.meetings.remind_minutes_before)),
    )


def link_book(settings: Settings) -> LinkBook:
    """Deep links as [links] configures them: the key ([links] secret, else [web] secret; none: no links), the
    Telegram bot's name (else the Telegram channel sets it from getMe) and the Zalo links."""
    links, oa = settings.links, settings.zalo.oa
    secret = links.secret or settings.web.secret
    zalo_oa = links.zalo_oa_url or (f"https://zalo.me/{oa.oa_id}" if oa.oa_id and oa.enabled else "")
    return LinkBook(
        key=LinkKey(secret.get_secret_value()) if secret is not None else None,
        telegram_username=links.telegram_username.removeprefix("@"),
        zalo_oa_url=zalo_oa,
        zalo_bot_url=links.zalo_bot_url,
    )


def freeze_startup_heap() -> None:
    """Once a server has started (modules, settings, the first search index): move every object alive now out of
    the garbage collector's reach. They live as long as the process, and a full collection walking them all took
    100–200 ms on a 2-core machine: one dashboard view or update in twenty waited for it (bench/dashboard.py).
    Frozen objects are never collected as cyclic garbage: the search index, the one of them replaced later (at a
    catalogue change), holds no reference cycles, so dropping it still frees it."""
    gc.collect()
    gc.freeze()
