"""The conversation: turns one Incoming into the replies for that chat. All handler wiring is here.

Each update runs in one database transaction with the chat's state, so what a user did, where their chat is and
the notifications it caused are saved together or not at all. Updates of one chat are handled one at a time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import (
    actions,
    admin,
    broadcast,
    catalog_admin,
    common,
    contact,
    dashboard,
    deeplink,
    events,
    exports,
    flow,
    inbox,
    link,
    meetings,
    memo_kinds,
    memos,
    outgoing,
    product,
    profile,
    search,
    start,
    stats,
    suggestions,
)
from handlers.context import MAX_TEXT, Context, Services
from handlers.flow import Kind
from handlers.i18n import Translator, language_of, translator
from handlers.messages import Button, Capabilities, Incoming, Reply
from handlers.render import Rendered, Wording, choose_option, render
from models import outbox, parse
from models.admin import sync_admin_role
from models.conversation import ChatState, load_state
from models.errors import (
    DomainError,
    DuplicateRequest,
    EventClosed,
    InvalidCode,
    NotAuthorised,
    QuotaExceeded,
    StaleAction,
)
from models.inbox import next_update_id, seen_before, set_handled
from models.metrics import REPLY
from models.people import language_of_identity, user_for_identity

log = logging.getLogger(__name__)
Arrange = Callable[[list[Rendered]], list[tuple[Rendered, dict[str, Any]]]]
Handler = Callable[[Context, str], Awaitable[None]]

COMMANDS: dict[str, Handler] = {
    "start": start.start,
    "help": common.show_help,
    "lang": common.ask_language,
    "cancel": common.cancel,
    "search": lambda ctx, arg: search.search_text(ctx, arg) if arg else search.browse_command(ctx),
    "browse": search.browse_command,
    "requests": inbox.list_requests,
    "memos": memos.list_memos,
    "products": product.list_own,
    "province": memo_kinds.province_command,
    "framework": memo_kinds.framework_command,
    "claimcode": admin.claim_code,
    "link": link.command,
    "profile": profile.command,
    "admin": admin.manage,
    "events": events.list_upcoming,
    "event": events.command,
    "suggest": suggestions.command,
    "stats": stats.show,
    "dashboard": dashboard.command,
    "export": exports.command,
    "stars": catalog_admin.stars_command,
    "hide": catalog_admin.hide_command,
    "unhide": catalog_admin.unhide_command,
    "broadcast": broadcast.command,
    "qr": deeplink.command,
    "meetings": meetings.command,
    "agenda": meetings.agenda,
}

# What each button does (handlers.actions): the handler gets the decoded record and checks who may do it.
ACTIONS: dict[type[actions.Action], Callable[[Context, Any], Awaitable[None]]] = {
    actions.Start: start.start,
    actions.Cancel: common.cancel,
    actions.SetLanguage: common.set_language,
    actions.Answer: flow.on_answer,
    actions.SearchPage: search.page,
    actions.Browse: search.browse,
    actions.ShowProduct: product.show,
    actions.ContactProducer: contact.begin_request,
    actions.ShowRequest: inbox.show_request,
    actions.AcceptRequest: inbox.accept,
    actions.DeclineRequest: inbox.decline,
    actions.ShowMemo: memos.show_memo,
    actions.ConfirmMemo: memos.confirm,
    actions.DownloadMemo: memos.download,
    actions.SignMemo: memos.sign,
    actions.IssueClaimCode: admin.pick,
    actions.GrantAdmin: admin.grant_pick,
    actions.RevokeAdmin: admin.revoke_pick,
    actions.ShowEvent: events.view,
    actions.RegisterForEvent: events.register,
    actions.WithdrawFromEvent: events.withdraw,
    actions.EditEvent: events.choose_field,
    actions.CancelEvent: events.cancel_button,
    actions.ExportRegistrants: events.export_registrants,
    actions.SuggestPartners: suggestions.page,
    actions.ShowSuggestedProducer: suggestions.show_producer,
    actions.ShowSuggestedBuyer: suggestions.show_buyer,
    actions.Export: exports.pick,
    actions.EditStars: catalog_admin.choose_stars,
    actions.HideProduct: catalog_admin.hide,
    actions.UnhideProduct: catalog_admin.unhide,
    actions.StopBroadcast: broadcast.stop,
    actions.ShareProduct: deeplink.share,
    actions.ShowProducer: deeplink.show_producer,
    actions.EventMeetings: meetings.event_page,
    actions.PickCounterpart: meetings.pick_counterpart,
    actions.BookMeeting: meetings.book,
    actions.OfficeBook: meetings.office_book,
    actions.EditGrid: meetings.edit_grid,
    actions.ShowMeeting: meetings.show,
    actions.AnswerMeeting: meetings.answer,
    actions.ProposeSlot: meetings.propose,
    actions.CancelMeeting: meetings.cancel,
    actions.MarkMeeting: meetings.mark,
    actions.MemoFromMeeting: meetings.memo_from,
    actions.MeetingFile: meetings.paper,
}

# Commands that show nothing private, so they may be answered in a group chat.
GROUP_COMMANDS = frozenset({"help", "search", "browse"})

ERROR_KEYS: dict[type[DomainError], str] = {
    NotAuthorised: "error.not_authorised",
    DuplicateRequest: "error.duplicate_request",
    InvalidCode: "claim.invalid_code",
    EventClosed: "event.closed",
}


def as_they_are(rendered: list[Rendered]) -> list[tuple[Rendered, dict[str, Any]]]:
    """Each message as it is, with no platform context (the default layout of replies in the outbox)."""
    return [(part, {}) for part in rendered]


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
        return state is not None and flow.takes(state, Kind.IMAGE)

    async def handle(
        self, incoming: Incoming, capabilities: Capabilities, *, update_key: str = ""
    ) -> list[Rendered] | None:
        """The messages to send back to the chat, for channels that show them at once (the console, tests); None
        for an update seen before (``update_key``: recorded with the update's effects, so it is answered once)."""
        async with self.services.chat_lock(incoming.channel, incoming.chat_id):
            try:
                async with self.services.db.transaction() as session:
                    now = self.services.clock.now()
                    if update_key and await seen_before(session, incoming.channel, update_key, now):
                        return None
                    return await self._run(session, incoming, capabilities)
            except Exception:
                return [self._apology(incoming, await self._language(incoming))]

    async def handle_stored(
        self, update_id: int, incoming: Incoming, capabilities: Capabilities, arrange: Arrange = as_they_are
    ) -> bool:
        """Handle the stored update ``update_id`` (models/inbox.py) if it is still its chat's next one: its effects,
        its replies (to the outbox, as ``arrange`` lays them out for the platform) and its "handled" mark are
        committed together. False when it was not its chat's next (another process handled it meanwhile).

        A bug in a handler rolls its effects back and the update is answered with an apology quoting the error id;
        a database that fails raises, and the update stays stored for another try."""
        channel, chat_id = incoming.channel, incoming.chat_id
        async with self.services.chat_lock(channel, chat_id):
            try:
                async with self.services.db.transaction() as session:
                    state = await load_state(session, channel, chat_id)  # PostgreSQL: the chat's row lock, first
                    if not await self._is_next(session, channel, chat_id, update_id):
                        return False
                    rendered = await self._run(session, incoming, capabilities, state)
                    queued = await self._store(session, incoming, rendered, arrange, update_id)
                self.services.metrics.messages_queued.labels(channel, REPLY).inc(queued)  # committed
                return True
            except (OSError, SQLAlchemyError):
                raise
            except Exception:
                apology = self._apology(incoming, await self._language(incoming))
            async with self.services.db.transaction() as session:
                await load_state(session, channel, chat_id)
                if not await self._is_next(session, channel, chat_id, update_id):
                    return False
                queued = await self._store(session, incoming, [apology], arrange, update_id)
            self.services.metrics.messages_queued.labels(channel, REPLY).inc(queued)
            return True

    @staticmethod
    async def _is_next(session: AsyncSession, channel: str, chat_id: str, update_id: int) -> bool:
        return await next_update_id(session, channel, chat_id) == update_id

    async def _store(
        self, session: AsyncSession, incoming: Incoming, rendered: list[Rendered], arrange: Arrange, update_id: int
    ) -> int:
        """The replies into the outbox and the update marked handled; how many messages were queued."""
        now = self.services.clock.now()
        laid_out = arrange(rendered)
        for part, context in laid_out:
            await outbox.add(session, incoming.channel, incoming.chat_id, await outgoing.encode(session, part, now),
                       context=context, now=now)
        await set_handled(session, update_id, now)
        return len(laid_out)

    def _apology(self, incoming: Incoming, language: str) -> Rendered:
        error_id = uuid.uuid4().hex[:8]
        log.exception("error %s handling an update from %s", error_id, incoming.channel,
                      extra={"error_id": error_id, "channel": incoming.channel, "chat_id": incoming.chat_id})
        return Rendered(translator(language)("error.unexpected", id=error_id))

    async def _language(self, incoming: Incoming) -> str:
        """The user's language for an apology (their platform's hint when the database cannot tell)."""
        try:
            async with self.services.db.session() as session:
                known = await language_of_identity(session, incoming.channel, incoming.user_id)
        except Exception:
            known = None
        return known or language_of(incoming.language_code or self.services.default_language)

    async def _run(
        self, session: AsyncSession, incoming: Incoming, capabilities: Capabilities, state: ChatState | None = None
    ) -> list[Rendered]:
        """The update's effects and its replies, rendered for the chat, in ``session``'s transaction (``state``: the
        chat's, when the caller has it already)."""
        user = await user_for_identity(
            session,
            incoming.channel,
            incoming.user_id,
            display_name=incoming.display_name,
            language=language_of(incoming.language_code or self.services.default_language),
        )
        listed = incoming.user_id in self.services.admin_ids.get(incoming.channel, frozenset())
        await sync_admin_role(session, user, self.services.admin_ids, listed=listed)
        state = state or await load_state(session, incoming.channel, incoming.chat_id)
        ctx = Context(self.services, session, incoming, user, state, capabilities=capabilities)
        shown_before = bool(state.options)
        _expire(ctx)
        try:
            await self._dispatch(ctx)  # domain errors are raised before anything is changed
        except DomainError as error:
            ctx.replies[:] = ctx.replies[:1] if ctx.expired else []
            _explain(ctx, error)
        hint = ctx.wrong_answer or not shown_before
        return render_for_chat(ctx.replies, state, capabilities, ctx.t, ctx.now, hint=hint)

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
        elif incoming.media == "image" and flow.expects(ctx, Kind.IMAGE):  # b"": it could not be fetched
            await flow.on_value(ctx, incoming.image)
        elif incoming.media and not incoming.text and flow.current(ctx) is not None:
            await flow.on_media(ctx)
        elif incoming.media and not incoming.text:
            ctx.say("input.media")
        else:
            await self._text(ctx, incoming.text)

    async def _action(self, ctx: Context, payload: str) -> None:
        record = actions.decode(payload)
        await ACTIONS[type(record)](ctx, record)

    async def _text(self, ctx: Context, text: str) -> None:
        text = text.strip()
        if not text:
            ctx.say("input.empty")
            return
        if len(text) > MAX_TEXT:
            await flow.reask(ctx, ctx.t("input.too_long", limit=MAX_TEXT))
            return
        if common.is_cancel(text):
            await common.cancel(ctx)
            return
        if text.startswith("/"):
            await self._command(ctx, text)
            return
        if flow.current(ctx) is not None and await flow.on_text(ctx, text):
            return  # the question on screen decided what the text means
        if await deeplink.open_typed(ctx, text):
            return  # a code from a poster or a forwarded share (channels whose links carry no payload)
        chosen = choose_option(text, ctx.state.options) if ctx.state.options else None
        if chosen:
            await self._action(ctx, chosen)
        elif ctx.state.options and parse.number(text.rstrip(".")) is not None:
            _not_an_option(ctx, text.rstrip("."))  # a number from an older list, or a slip: never a product search
        else:
            await search.search_text(ctx, text)

    async def _command(self, ctx: Context, text: str) -> None:
        word, _, arg = text[1:].partition(" ")
        name = word.split("@")[0].lower()
        handler = COMMANDS.get(name)
        if handler is None:
            ctx.say("input.unknown_command", command=text.split()[0][:40])
            return
        asked = flow.current(ctx)
        if asked is not None and asked[0].optional:
            ctx.state.leave()  # a question nothing depends on gives way to a command: its menu answers typed numbers
        await handler(ctx, arg.strip())

    async def _group(self, ctx: Context) -> None:
        """In groups only commands addressed to the bot, and nothing private."""
        text = ctx.incoming.text.strip()
        name = text[1:].split(" ")[0].split("@")[0].lower() if text.startswith("/") else ""
        if name in GROUP_COMMANDS:
            await self._command(ctx, text)
        elif name:
            ctx.say("group.private_only")


def _not_an_option(ctx: Context, typed: str) -> None:
    """A number the options on screen do not have: say so and show them again, to pick from or to type past."""
    rows = [[Button(label.removeprefix(f"{key}. "), action, key)] for label, action, key in ctx.state.options]
    ctx.say("input.not_an_option", number=typed, buttons=rows)


def _expire(ctx: Context) -> None:
    """A flow left alone longer than ``Services.flow_ttl`` ends; the next message is handled as if outside it."""
    state = ctx.state
    if state.flow is not None and ctx.now - state.updated_at > ctx.services.flow_ttl:
        state.leave()
        ctx.expired = True
        ctx.say("flow.expired", hours=round(ctx.services.flow_ttl.total_seconds() / 3600))


def render_for_chat(
    replies: list[Reply], state: ChatState, capabilities: Capabilities, t: Translator, now: datetime, *, hint: bool
) -> list[Rendered]:
    """Render the replies for one chat and remember the options they show (to answer by number or word). Options
    stay until a reply shows others; ``hint`` (how to answer by number) goes with the first menu shown and after a
    wrong answer."""
    wording = Wording(hint=t("choose.hint") if hint else "", typed=t("choose.typed"))
    rendered = [part for reply in replies for part in render(reply, capabilities, wording)]
    options = [[button.label, button.action, button.key] for part in rendered for button in part.options]
    if options:
        state.options = options
    elif state.flow is None and any(reply.buttons for reply in replies):
        state.options = []  # a new menu with buttons only (a channel that shows buttons): nothing to type
    elif state.flow is None:  # a flow's questions are gone with it
        state.options = [o for o in state.options if not o[1].startswith(actions.Answer.tag + ":")]
    state.updated_at = now
    return rendered


def _explain(ctx: Context, error: DomainError) -> None:
    if isinstance(error, QuotaExceeded):
        text = ctx.t("error.quota", limit=error.limit)
    elif isinstance(error, StaleAction):
        text = ctx.t(f"error.stale.{error.reason.value}")
    else:
        key = next((key for kind, key in ERROR_KEYS.items() if isinstance(error, kind)), "error.stale")
        text = ctx.t(key)
    ctx.send(Reply(text, notice=bool(ctx.incoming.action)))
