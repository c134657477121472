"""The conversation: turns one Incoming into the replies for that chat. All handler wiring is here.

Each update runs in one database transaction with the chat's state, so what a user did, where their chat is and
the notifications it caused are saved together or not at all. Updates of one chat are handled one at a time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from handlers import (
    admin,
    broadcast,
    catalog_admin,
    common,
    contact,
    events,
    exports,
    inbox,
    link,
    memos,
    product,
    search,
    start,
    stats,
)
from handlers.context import MAX_TEXT, Context, Services
from handlers.i18n import language_of, translator
from handlers.messages import Capabilities, Incoming, Reply
from handlers.render import Rendered, choose_option, render
from models.admin import sync_admin_role
from models.conversation import ChatState, first_delivery, load_state
from models.errors import (
    DomainError,
    DuplicateRequest,
    EventClosed,
    InvalidCode,
    NotAuthorised,
    QuotaExceeded,
    StaleAction,
)
from models.people import user_for_identity

log = logging.getLogger(__name__)
Handler = Callable[[Context, str], Awaitable[None]]

COMMANDS: dict[str, Handler] = {
    "start": start.start,
    "help": common.show_help,
    "lang": common.ask_language,
    "cancel": common.cancel,
    "search": lambda ctx, arg: search.search_text(ctx, arg) if arg else search.browse(ctx, ""),
    "browse": search.browse,
    "requests": inbox.list_requests,
    "memos": memos.list_memos,
    "claimcode": admin.claim_code,
    "link": link.command,
    "admin": admin.manage,
    "events": events.list_upcoming,
    "event": events.command,
    "stats": stats.show,
    "export": exports.command,
    "stars": catalog_admin.stars_command,
    "hide": catalog_admin.hide_command,
    "unhide": catalog_admin.unhide_command,
    "broadcast": broadcast.command,
}

ACTIONS: dict[str, Handler] = {
    "start": start.start,
    "cancel": common.cancel,
    "lang": common.set_language,
    "role": start.choose_role,
    "bk": start.choose_kind,
    "rg": start.toggle_region,
    "ph": start.skip_phone,
    "pc": start.pick_producer,
    "s": search.page,
    "b": search.browse,
    "p": product.show,
    "c": contact.begin,
    "cf": contact.on_button,
    "rv": inbox.show_request,
    "ra": inbox.accept,
    "rd": inbox.decline,
    "mv": memos.show_memo,
    "mc": memos.confirm,
    "md": memos.download,
    "ms": memos.sign,
    "cc": admin.pick,
    "lk": link.confirm,
    "ag": admin.grant_pick,
    "ar": admin.revoke_pick,
    "ev": events.view,
    "er": events.register,
    "eu": events.withdraw,
    "ef": events.choose_field,
    "et": events.theme_pick,
    "es": events.step_button,
    "ex": events.cancel_button,
    "xp": exports.pick,
    "ke": catalog_admin.choose_stars,
    "ks": catalog_admin.stars_button,
    "kh": catalog_admin.hide,
    "ku": catalog_admin.unhide,
    "bc": broadcast.on_button,
    "bx": broadcast.stop,
}

FLOWS: dict[str, Callable[[Context, str], Awaitable[None]]] = {
    start.FLOW: start.on_text,
    contact.FLOW: contact.on_text,
    events.FLOW: events.on_text,
    broadcast.FLOW: broadcast.on_text,
}

# Flows that take a picture the user sends (elsewhere a picture is answered with its caption, if any, as text).
IMAGE_FLOWS: dict[str, Callable[[Context], Awaitable[None]]] = {broadcast.FLOW: broadcast.on_image}

# Commands that show nothing private, so they may be answered in a group chat.
GROUP_COMMANDS = frozenset({"help", "search", "browse"})

ERROR_KEYS: dict[type[DomainError], str] = {
    NotAuthorised: "error.not_authorised",
    StaleAction: "error.stale",
    DuplicateRequest: "error.duplicate_request",
    InvalidCode: "claim.invalid_code",
    EventClosed: "event.closed",
}


class Conversation:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def wants_image(self, incoming: Incoming) -> bool:
        """Whether the chat is at a step that takes a picture: channels fetch one only then (outside the update's
        transaction), and a picture sent anywhere else costs no download."""
        if incoming.is_group:
            return False
        async with self.services.db.session() as session:
            state = await session.get(ChatState, (incoming.channel, incoming.chat_id))
        return state is not None and state.flow in IMAGE_FLOWS

    async def handle(
        self, incoming: Incoming, capabilities: Capabilities, *, update_key: str = ""
    ) -> list[Rendered] | None:
        """The messages to send back to the chat the update came from; None for an update seen before.

        ``update_key`` identifies a platform delivery (Telegram update_id, Zalo event and message id); it is
        recorded in the same transaction as the update's effects, so a redelivery is answered exactly once.
        """
        async with self.services.chat_lock(incoming.channel, incoming.chat_id):
            language = language_of(incoming.language_code)
            try:
                async with self.services.db.transaction() as session:
                    if update_key and not await first_delivery(session, incoming.channel, update_key):
                        return None
                    user = await user_for_identity(
                        session,
                        incoming.channel,
                        incoming.user_id,
                        display_name=incoming.display_name,
                        language=language_of(incoming.language_code or self.services.default_language),
                    )
                    listed = incoming.user_id in self.services.admin_ids.get(incoming.channel, frozenset())
                    await sync_admin_role(session, user, self.services.admin_ids, listed=listed)
                    state = await load_state(session, incoming.channel, incoming.chat_id)
                    ctx = Context(self.services, session, incoming, user, state, capabilities=capabilities)
                    language = user.language
                    try:
                        await self._dispatch(ctx)  # domain errors are raised before anything is changed
                    except DomainError as error:
                        ctx.replies.clear()
                        _explain(ctx, error)
                    return render_for_chat(ctx.replies, ctx.state, capabilities, ctx.t("choose.hint"), ctx.now)
            except Exception:
                error_id = uuid.uuid4().hex[:8]
                log.exception("error %s handling an update from %s", error_id, incoming.channel)
                return [Rendered(translator(language)("error.unexpected", id=error_id))]

    async def _dispatch(self, ctx: Context) -> None:
        incoming = ctx.incoming
        if incoming.is_group:
            await self._group(ctx)
        elif incoming.contact_phone:
            await start.shared_contact(ctx, incoming.contact_phone)
        elif incoming.action:
            await self._action(ctx, incoming.action)
        elif incoming.document_name:
            await catalog_admin.on_document(ctx)
        elif incoming.media == "image" and ctx.state.flow in IMAGE_FLOWS:  # an empty image: it could not be fetched
            await IMAGE_FLOWS[ctx.state.flow](ctx)
        elif incoming.media and not incoming.text:
            ctx.say("input.media")
        else:
            await self._text(ctx, incoming.text)

    async def _action(self, ctx: Context, action: str) -> None:
        prefix, _, arg = action.partition(":")
        handler = ACTIONS.get(prefix)
        if handler is None:
            raise StaleAction(f"unknown action {action[:20]!r}")
        await handler(ctx, arg)

    async def _text(self, ctx: Context, text: str) -> None:
        text = text.strip()
        if not text:
            ctx.say("input.empty")
            return
        if len(text) > MAX_TEXT:
            ctx.say("input.too_long", limit=MAX_TEXT)
            return
        if common.is_cancel(text):
            await common.cancel(ctx)
            return
        if text.startswith("/"):
            await self._command(ctx, text)
            return
        chosen = choose_option(text, ctx.state.options) if ctx.state.options else None
        if chosen:
            await self._action(ctx, chosen)
        elif ctx.state.flow in FLOWS:
            await FLOWS[ctx.state.flow](ctx, text)
        else:
            await search.search_text(ctx, text)

    async def _command(self, ctx: Context, text: str) -> None:
        word, _, arg = text[1:].partition(" ")
        name = word.split("@")[0].lower()
        handler = COMMANDS.get(name)
        if handler is None:
            ctx.say("input.unknown_command", command=text.split()[0][:40])
            return
        await handler(ctx, arg.strip())

    async def _group(self, ctx: Context) -> None:
        """In groups only commands addressed to the bot, and nothing private."""
        text = ctx.incoming.text.strip()
        name = text[1:].split(" ")[0].split("@")[0].lower() if text.startswith("/") else ""
        if name in GROUP_COMMANDS:
            await self._command(ctx, text)
        elif name:
            ctx.say("group.private_only")


def render_for_chat(
    replies: list[Reply], state: ChatState, capabilities: Capabilities, hint: str, now: datetime
) -> list[Rendered]:
    """Render replies for one chat and remember the numbered options it was shown (channels without buttons)."""
    rendered = [part for reply in replies for part in render(reply, capabilities, hint)]
    options = [[button.label, button.action] for part in rendered for button in part.options]
    if replies:
        state.options = options
    state.updated_at = now
    return rendered


def _explain(ctx: Context, error: DomainError) -> None:
    if isinstance(error, QuotaExceeded):
        text = ctx.t("error.quota", limit=error.limit)
    else:
        key = next((key for kind, key in ERROR_KEYS.items() if isinstance(error, kind)), "error.stale")
        text = ctx.t(key)
    ctx.send(Reply(text, notice=bool(ctx.incoming.action)))
