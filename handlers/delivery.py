"""Delivering queued notifications through a channel, rendered for what it can show."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.app import render_for_chat
from handlers.context import Services, notify
from handlers.i18n import translator
from handlers.messages import Capabilities, Reply
from handlers.render import Rendered
from models.conversation import load_state
from models.notifications import mark_delivered, mark_failed, pending
from models.people import Identity, Role, User, identities_of, users_with_role

log = logging.getLogger(__name__)
Send = Callable[[str, list[Rendered]], Awaitable[None]]


class RecipientBlocked(Exception):
    """The platform says the user blocked the bot: stop sending to them."""


class ChannelUnavailable(Exception):
    """The channel cannot send at all now (its credentials were refused): stop, and count no failed attempt."""


class RecipientUnreachable(Exception):
    """The platform will not deliver to this user for now (Zalo OA: no message from them in 7 days).

    Their notifications are kept for when they write again, and the admins are told.
    """


async def deliver_pending(
    services: Services, channel: str, capabilities: Capabilities, send: Send, *, external_id: str | None = None
) -> int:
    """Send every undelivered notification for users on ``channel``; returns how many were delivered."""
    delivered = 0
    held: set[int | None] = set()
    async with services.db.session() as session:
        queued = [(n.id, i.external_id) for n, i, _u in await pending(session, channel, external_id=external_id)]
    for notification_id, chat_id in queued:
        # One transaction per notification, under the chat's lock: the numbered options it shows are committed
        # before the user can answer them, and a reply being handled for that chat is never interleaved.
        async with services.chat_lock(channel, chat_id), services.db.transaction() as session:
            rows = await pending(session, channel, notification_id=notification_id, external_id=chat_id)
            if not rows:
                continue  # delivered meanwhile (another replica), or the user became unreachable
            notification, identity, user = rows[0]
            if identity.id in held:
                continue
            reply = Reply.from_json(notification.payload)
            state = await load_state(session, channel, identity.external_id)
            t = translator(user.language)
            rendered = render_for_chat([reply], state, capabilities, t, services.clock.now(), hint=not state.options)
            try:
                await send(identity.external_id, rendered)
            except ChannelUnavailable:
                break  # what was delivered stays delivered; the rest waits for the channel
            except RecipientBlocked:
                user.blocked = True
                mark_failed(notification, "blocked by the user")
            except RecipientUnreachable as error:
                held.add(identity.id)
                identity.unreachable_since = services.clock.now()
                notification.last_error = f"held: {error}"[:500]  # not a failed attempt: kept for later
                await _tell_admins(session, identity, user, reply)
            except Exception as error:  # one failing recipient must not stop the others
                log.warning("notification %s to %s failed: %s", notification.id, channel, error)
                mark_failed(notification, repr(error))
            else:
                mark_delivered(notification, services.clock.now())
                delivered += 1
    return delivered


async def _tell_admins(session: AsyncSession, identity: Identity, user: User, reply: Reply) -> None:
    """The admins learn that a message waits for a user no channel can reach now."""
    others = [i for i in await identities_of(session, user.id or 0) if i.id != identity.id]
    if any(other.unreachable_since is None for other in others):
        return  # another channel of theirs will deliver it
    admins = [admin for admin in await users_with_role(session, Role.ADMIN) if admin.id != user.id]
    if not admins:
        log.warning("a notification for user %s waits on %s; no admin to tell", user.id, identity.channel)
    excerpt = reply.text if len(reply.text) <= 300 else reply.text[:300] + "…"
    for admin in admins:
        notify(session, admin, lambda t: Reply(t(
            "delivery.held", name=user.display_name or f"#{user.id}", channel=t(f"channel.{identity.channel}"),
            phone=user.phone or t("contact.not_given"), text=excerpt,
        )))
