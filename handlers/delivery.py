"""Delivering queued notifications through a channel, rendered for what it can show."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from handlers.app import render_for_chat
from handlers.context import Services
from handlers.i18n import translator
from handlers.messages import Capabilities, Reply
from handlers.render import Rendered
from models.conversation import load_state
from models.notifications import mark_delivered, mark_failed, pending

log = logging.getLogger(__name__)
Send = Callable[[str, list[Rendered]], Awaitable[None]]


class RecipientBlocked(Exception):
    """The platform says the user blocked the bot: stop sending to them."""


async def deliver_pending(
    services: Services, channel: str, capabilities: Capabilities, send: Send, *, external_id: str | None = None
) -> int:
    """Send every undelivered notification for users on ``channel``; returns how many were delivered."""
    delivered = 0
    async with services.db.transaction() as session:
        for notification, identity, user in await pending(session, channel, external_id=external_id):
            reply = Reply.from_json(notification.payload)
            state = await load_state(session, channel, identity.external_id)
            hint = translator(user.language)("choose.hint")
            rendered = render_for_chat([reply], state, capabilities, hint, services.clock.now())
            try:
                await send(identity.external_id, rendered)
            except RecipientBlocked:
                user.blocked = True
                mark_failed(notification, "blocked by the user")
            except Exception as error:  # one failing recipient must not stop the others
                log.warning("notification %s to %s failed: %s", notification.id, channel, error)
                mark_failed(notification, repr(error))
            else:
                mark_delivered(notification, services.clock.now())
                delivered += 1
    return delivered
