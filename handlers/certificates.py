"""Certificate validity as people see it: the flag on lists and cards, and the reminders producers get."""

from __future__ import annotations

from datetime import date

from handlers.actions import ShowProduct
from handlers.context import Services, notify
from handlers.i18n import Translator
from handlers.messages import Button, Reply
from models.certificates import DueReminder, Validity, claim_due_reminders, validity
from models.people import users_of_producer


def list_flag(t: Translator, expires_on: date | None, today: date) -> str:
    """The short mark a listed product carries: "⚠️ chứng nhận OCOP hết hạn 06/2026", "⏳ còn hiệu lực đến …", or
    nothing for a certificate valid more than 90 days (or of unknown date)."""
    state = validity(expires_on, today)
    if expires_on is None or state in {Validity.VALID, Validity.UNKNOWN}:
        return ""
    if state is Validity.EXPIRED:
        return t("certificate.flag.expired", month=f"{expires_on:%m/%Y}")
    return t("certificate.flag.expiring", date=f"{expires_on:%d/%m/%Y}")


def card_line(t: Translator, expires_on: date, today: date) -> str:
    """The product card's line on the certificate's validity."""
    key = {Validity.EXPIRED: "card.expired_on", Validity.EXPIRING: "card.expiring"}.get(
        validity(expires_on, today), "card.valid_until"
    )
    return t(key, date=f"{expires_on:%d/%m/%Y}")


async def send_reminders(services: Services) -> int:
    """Queue the certificate reminders due (90 and 30 days before the last day, once each); returns how many."""
    sent = 0
    async with services.db.transaction() as session:
        for due in await claim_due_reminders(session, services.clock.now()):
            for user in await users_of_producer(session, due.producer.id or 0):
                notify(session, user, lambda t, d=due: _reminder(t, d))
                sent += 1
    return sent


def _reminder(t: Translator, due: DueReminder) -> Reply:
    product = due.product
    text = t(
        "certificate.reminder",
        product=product.name,
        number=product.decision_no or "?",
        date=f"{due.expires_on:%d/%m/%Y}",
        days=due.days_left,
    )
    return Reply(text, buttons=((Button(t("certificate.open"), ShowProduct(product.id or 0).encode()),),))
