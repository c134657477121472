"""Notifications into the outbox, and what a channel's sender reports back about a chat.

A notification (models/notifications.py) is addressed to a user; it is rendered for the chat of one of their
identities on the channel taking it — in the recipient's language, with the chat's numbered options — and written to
the outbox (models/outbox.py) in one transaction, under the chat's lock, so that a reply being handled for that
chat is never interleaved with it. The channel's sender then sends it like any reply.
"""

from __future__ import annotations

import logging
import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outgoing
from handlers.app import render_for_chat
from handlers.context import Services, notify
from handlers.flow import FLOWS
from handlers.i18n import translator
from handlers.messages import Capabilities, Reply
from handlers.render import Rendered
from models import outbox
from models.conversation import load_state
from models.metrics import NOTIFICATION, REPLY
from models.notifications import pending
from models.people import Identity, Role, User, identities_of, language_of_identity, mark_blocked, users_with_role

log = logging.getLogger(__name__)


async def queue_notifications(
    services: Services, channel: str, capabilities: Capabilities, *, external_id: str | None = None
) -> list[str]:
    """Move the notifications waiting for users on ``channel`` into the outbox; the chats that got some."""
    async with services.db.session() as session:
        queued = [(n.id, i.external_id) for n, i, _u in await pending(session, channel, external_id=external_id)]
    chats: list[str] = []
    for notification_id, chat_id in queued:
        async with services.chat_lock(channel, chat_id), services.db.transaction() as session:
            state = await load_state(session, channel, chat_id)  # PostgreSQL: the chat's row lock, first
            rows = await pending(session, channel, notification_id=notification_id, external_id=chat_id)
            if not rows:
                continue  # taken meanwhile (another replica), or the user became unreachable
            notification, _identity, user = rows[0]
            now = services.clock.now()
            reply = Reply.from_json(notification.payload)
            rendered = render_for_chat([reply], state, capabilities, translator(user.language), now,
                                       hint=not state.options)
            asked = FLOWS.get(state.flow or "")
            if asked is not None and asked.optional and any(part.options for part in rendered):
                state.leave()  # a question nothing depends on gives way: typed numbers now answer this message
            for part in rendered:
                await outbox.add(session, channel, chat_id, await outgoing.encode(session, part, now),
                           notification_id=notification.id, now=now)
            notification.delivered_at = now
        services.metrics.messages_queued.labels(channel, NOTIFICATION).inc(len(rendered))  # committed
        if chat_id not in chats:
            chats.append(chat_id)
    return chats


async def blocked(services: Services, channel: str, chat_id: str, why: str) -> None:
    """The user of this chat blocked the bot: nothing more is sent to them (until they write again)."""
    async with services.db.transaction() as session:
        await mark_blocked(session, channel, chat_id)
        dropped = await outbox.give_up(session, channel, chat_id, f"blocked: {why}")
    log.info("%s: chat %s blocked the bot; %d message(s) not sent", channel, chat_id, dropped)


async def refused(
    services: Services, channel: str, chat_id: str, message: outbox.Pending, why: str, reference: str = ""
) -> None:
    """The platform refused a message as it is (malformed, a photo it cannot fetch…): it is given up, and the user is
    told that something went wrong, quoting the reference the office can look for in the logs."""
    reference = reference or uuid.uuid4().hex[:8]
    log.warning("%s: message %s to %s refused (%s); reference %s", channel, message.id, chat_id, why, reference,
                extra={"error_id": reference, "channel": channel, "chat_id": chat_id})
    async with services.db.transaction() as session:
        await outbox.give_up(session, channel, chat_id, f"refused: {why}", message_id=message.id)
        if message.context.get("apology"):
            return  # the apology itself was refused: nothing more to say
        language = await language_of_identity(session, channel, chat_id)
        text = translator(language or services.default_language)("error.unexpected", id=reference)
        now = services.clock.now()
        await outbox.add(session, channel, chat_id, await outgoing.encode(session, Rendered(text), now),
                   context={"apology": True}, now=now)
    services.metrics.messages_queued.labels(channel, REPLY).inc()


async def unreachable(services: Services, channel: str, chat_id: str, why: str) -> None:
    """The platform will not deliver to this chat for now (Zalo OA's 7 days). A notification goes back to wait for
    the user (or for their other channel); a reply is given up, with the reason; the admins are told when no channel
    can reach the user."""
    async with services.db.transaction() as session:
        identity, user = await _identity(session, channel, chat_id)
        notifications = await outbox.unsent_notifications(session, channel, chat_id)
        await outbox.give_up(session, channel, chat_id, f"unreachable: {why}")
        if identity is None or user is None:
            return
        identity.unreachable_since = services.clock.now()
        for notification in notifications:
            notification.delivered_at = None
            notification.last_error = f"held: {why}"[:500]
            await _tell_admins(session, identity, user, Reply.from_json(notification.payload))


async def channel_stopped(services: Services, channel: str, why: str) -> int:
    """A channel stopped because the platform refused our credentials or our access: the admins who can be reached
    on another channel are told what to fix (those only on the stopped channel would read it only after the fix).
    How many admins were told."""
    told = 0
    async with services.db.transaction() as session:
        for admin in await users_with_role(session, Role.ADMIN):
            if not any(i.channel != channel for i in await identities_of(session, admin.id or 0)):
                continue
            notify(session, admin, lambda t: Reply(t("delivery.channel_stopped", channel=t(f"channel.{channel}"),
                                                      why=why)))
            told += 1
    if not told:
        log.warning("%s stopped; no admin on another channel to tell", channel)
    return told


async def _identity(session: AsyncSession, channel: str, external_id: str) -> tuple[Identity | None, User | None]:
    query = select(Identity, User).join(User).where(Identity.channel == channel, Identity.external_id == external_id)
    found = (await session.exec(query)).first()
    return (found[0], found[1]) if found is not None else (None, None)


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
