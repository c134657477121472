"""The Telegram channel on python-telegram-bot 22: polling or webhook, inline buttons, photos, documents, limits.

PTB's ``Bot`` does the HTTP (on our aiohttp request layer); our inbox, Conversation and outbox do the rest. An
update is stored before Telegram is told we have it: the webhook answers 200 once its row is committed, and polling
asks for the next updates (which confirms the earlier ones to Telegram) only once the last batch is stored. The
outbox sends each chat's messages in order within Telegram's limits (bot/pacing.py: ``messages_per_second`` in all,
``chat_gap_seconds`` to one private chat, 20 a minute to a group), and a 429 is waited out and tried again, never
dropped. Broadcasts go through a lane of their own (bot/broadcast_transports.py TelegramTransport), which gives way
to the messages counted here.

The phone step: a reply asking for the phone number (``request_contact``) is one message with a reply keyboard —
the "share my number" button, and the reply's other buttons (Skip) as text buttons on a row of their own, whose
press sends their label as text. The next message to that chat that has no inline keyboard removes it.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import replace
from functools import partial
from typing import Any

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    PhotoSize,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import (
    TelegramError,
)

from bot.broadcast_sender import Lane, SendRate
from bot.broadcast_transports import AiohttpRequest, TelegramTransport
from bot.channel import ChannelRuntime, ChannelSpec, RecentSends, Shared
from bot.config import TelegramSettings
from bot.inbox_worker import Prepared
from bot.pacing import Pacer
from bot.retry import (
    ChannelUnavailable,
    RetryPolicy,
    SendFailed,
    Stopped,
    Throttled,
    TryLater,
)
from bot.telegram_errors import translated
from handlers.app import COMMANDS, Conversation
from handlers.i18n import LANGUAGES, translator
from handlers.memos import load_document
from handlers.messages import Attachment, Capabilities, Incoming
from handlers.render import Rendered
from models.errors import StaleAction
from models.inbox import Received
from models.stored_files import MAX_IMAGE_BYTES
from models.tabular import MAX_FILE_BYTES

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MENU = ("start", "search", "browse", "requests", "memos", "events", "agenda", "link", "help", "lang", "cancel")
CAPTION_LIMIT = 1024
MAX_UPLOAD = MAX_FILE_BYTES  # the largest file a user may send us (catalogue lists)
MAX_KEYBOARDS_KEPT = 10_000  # chats remembered as showing a reply keyboard (the oldest are forgotten)
MAX_PROGRESS_KEPT = 1_000  # progress messages remembered for editing (the oldest are forgotten: a new one is sent)
CONNECTIONS = 64  # to the Bot API, for sending
MAX_UPDATE_ID = 2**63 - 1  # Bot API integers are at most 64-bit: a larger update_id is not Telegram's


def _photo(photo: str | Attachment) -> str | InputFile:
    """A URL or file id as it is; an image we made, uploaded."""
    return InputFile(photo.data, filename=photo.filename) if isinstance(photo, Attachment) else photo


def _contact_keyboard(part: Rendered) -> ReplyKeyboardMarkup:
    """The phone step's reply keyboard: "share my number", then the reply's other buttons (Skip) as text buttons on
    a row of their own; pressing one of those sends its label as text."""
    rows = [[KeyboardButton(part.request_contact, request_contact=True)]]
    others = [KeyboardButton(button.label) for row in part.buttons for button in row]
    if others:
        rows.append(others)
    return ReplyKeyboardMarkup(rows, one_time_keyboard=True, resize_keyboard=True)


def chat_of(update: Update) -> str:
    """The chat an update belongs to (its updates are handled in order); "" for updates about no chat."""
    chat, user = update.effective_chat, update.effective_user
    return str(chat.id) if chat is not None else str(user.id) if user is not None else ""


class TelegramChannel(ChannelRuntime):
    name = "telegram"
    capabilities = Capabilities(max_text=4096, max_buttons=100)

    def __init__(
        self, conversation: Conversation, settings: TelegramSettings, *, sends: RecentSends | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__(conversation, sends=sends,
                         pacer=pacer or Pacer(settings.messages_per_second, settings.chat_gap_seconds))
        if settings.token is None:
            raise ValueError("telegram.token is not set")
        self.settings = settings
        self.bot = Bot(
            settings.token.get_secret_value(),
            base_url=settings.base_url,
            base_file_url=settings.base_url.replace("/bot", "/file/bot"),
            request=AiohttpRequest(CONNECTIONS, timeout=30),
            get_updates_request=AiohttpRequest(1, timeout=settings.poll_timeout + 15),
        )
        # Chats showing the phone step's reply keyboard, until a message removes it. In this process's memory: a
        # restart, or a reply sent by another replica, leaves it up (it hides once pressed: one_time_keyboard).
        self._reply_keyboards: OrderedDict[int, None] = OrderedDict()
        self._progress: OrderedDict[tuple[int, str], int] = OrderedDict()  # (chat, Reply.progress) → message id
        self.poll_policy = RetryPolicy(first=1.0, maximum=30.0)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, web_app: web.Application) -> None:
        if self.settings.mode == "webhook":
            web_app.router.add_post(f"/telegram/{self.settings.webhook_path}", self.webhook)

    async def connect(self) -> None:
        """Check the token, publish the command menus, register (or delete) the webhook."""
        try:
            await self.bot.initialize()
            await self.set_commands()
            if self.settings.mode == "webhook" and self.settings.webhook_url:
                secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else None
                await self.bot.set_webhook(self.settings.webhook_url, secret_token=secret,
                                           allowed_updates=Update.ALL_TYPES)
            elif self.settings.mode == "polling":
                await self.bot.delete_webhook()
        except TelegramError as error:
            raise translated(error, "starting") from None  # InvalidToken's text holds the token: not chained
        links = self.conversation.services.links
        if not links.telegram_username and self.bot.username:  # deep links name the bot as getMe gave it
            links.telegram_username = self.bot.username
        log.info("telegram channel started (%s) as @%s", self.settings.mode, self.bot.username)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

    def loops(self) -> list[Awaitable[None]]:
        return [self.poll()] if self.settings.mode == "polling" else []

    async def set_commands(self) -> None:
        for language in LANGUAGES:
            t = translator(language)
            commands = [BotCommand(name, t(f"menu.{name}")) for name in MENU if name in COMMANDS]
            code = None if language == "vi" else language  # Vietnamese is the default menu
            await self.bot.set_my_commands(commands, language_code=code)

    # -- inbound ------------------------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /telegram/<path>: the secret checked in constant time first; the update stored, then 200."""
        expected = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
        except (ValueError, RecursionError):
            return web.Response(status=400, text="not JSON")
        received = self.received(data)
        if received is None:
            return web.Response(status=400, text="not an update")
        try:
            await self.receive([received])
        except Exception as error:  # not stored: Telegram must deliver it again
            log.warning("telegram: an update could not be stored (%s); asking Telegram to retry", error)
            return web.Response(status=503, text="try again")
        return web.Response(text="ok")

    def received(self, data: Any) -> Received | None:
        """An update as the inbox keeps it; None when it is not one (then nothing is stored)."""
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if type(update_id) is not int or not 0 <= update_id <= MAX_UPDATE_ID:
            return None
        try:
            update = Update.de_json(data, self.bot)
        except Exception:
            return None
        return Received(str(update_id), chat_of(update), data)

    async def poll(self) -> None:
        """getUpdates until stopped; a batch is confirmed to Telegram (by asking for the next) once it is stored."""
        offset: int | None = None
        while not self.stopping.is_set():
            try:
                updates = await self.poll_policy.call(partial(self._get_updates, offset), what="telegram: getUpdates",
                                                      stopping=self.stopping, on_retry=self.count_retry)
            except ChannelUnavailable as error:
                self.refuse(str(error))
                return
            except Stopped:
                return
            if updates is None:
                return
            batch = [r for r in (self.received(u.to_dict()) for u in updates) if r is not None]
            try:
                await self.poll_policy.call(partial(self._store, batch), what="telegram: storing updates",
                                            stopping=self.stopping)
            except Stopped:
                return  # not stored: asked for again at the next start (the offset was not moved)
            if updates:
                offset = updates[-1].update_id + 1

    async def _get_updates(self, offset: int | None) -> tuple[Update, ...] | None:
        try:
            return await self.unless_stopping(self.bot.get_updates(
                offset=offset, timeout=self.settings.poll_timeout, allowed_updates=Update.ALL_TYPES))
        except TelegramError as error:
            raise translated(error, "getUpdates") from None

    async def _store(self, batch: list[Received]) -> None:
        try:
            await self.receive(batch)
        except Exception as error:
            raise TryLater(f"the database did not take the updates: {error}") from error

    async def prepare(self, payload: dict[str, Any]) -> Prepared | None:
        update = Update.de_json(payload, self.bot)
        incoming = self.to_incoming(update)
        query = update.callback_query
        if incoming is None:
            if query is not None:
                with contextlib.suppress(TelegramError):
                    await self.bot.answer_callback_query(query.id)
            return None
        message = update.message
        if message is not None and not incoming.is_group:
            if message.document is not None and incoming.document_name:
                incoming = replace(incoming, document_data=await self._download(message.document, MAX_UPLOAD))
            elif message.photo and await self.conversation.wants_image(incoming):  # the largest size small enough
                fitting = [size for size in message.photo if (size.file_size or 0) <= MAX_IMAGE_BYTES]
                if fitting:
                    largest = max(fitting, key=lambda size: size.width * size.height)
                    incoming = replace(incoming, image=await self._download(largest, MAX_IMAGE_BYTES))
        if query is None:
            return Prepared(incoming)
        pressed = query.message.message_id if query.message is not None else None

        def arrange(rendered: list[Rendered]) -> list[tuple[Rendered, dict[str, Any]]]:
            """A button press is answered first (its notice as a toast, or nothing), then the messages; a message
            that replaces another (paging) names the one whose button was pressed."""
            notices = [part for part in rendered if part.notice]
            first = (notices[0] if notices else Rendered("", notice=True), {"callback": query.id})
            return [first, *((part, {"edit": pressed} if part.edit and pressed else {})
                             for part in rendered if not part.notice)]

        return Prepared(incoming, arrange)

    def to_incoming(self, update: Update) -> Incoming | None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or user.is_bot:
            return None
        common: dict[str, Any] = {
            "channel": self.name,
            "user_id": str(user.id),
            "chat_id": str(chat.id),
            "display_name": user.full_name,
            "language_code": user.language_code or "",
            "is_group": chat.type in (ChatType.GROUP, ChatType.SUPERGROUP),
        }
        if update.callback_query is not None:
            return Incoming(action=update.callback_query.data or "", **common)
        message = update.message
        if message is None:
            return None
        if message.contact is not None:
            if message.contact.user_id != user.id:  # only one's own number counts as consent
                return Incoming(text="", **common)
            return Incoming(contact_phone=message.contact.phone_number, **common)
        if message.document is not None:
            return Incoming(document_name=message.document.file_name or "file", **common)
        text = message.text or message.caption or ""
        if common["is_group"] and not self._addressed_to_me(text):
            return None
        return Incoming(text=text, media="image" if message.photo else "", **common)

    async def _download(self, sent: Document | PhotoSize, limit: int) -> bytes:
        """A file or picture a user sent, up to ``limit`` bytes (Bot API downloads stop at 20 MB); b"" when too
        large or not downloadable (the handler says so)."""
        if sent.file_size and sent.file_size > limit:
            return b""
        try:
            data = await (await self.bot.get_file(sent.file_id)).download_as_bytearray()
        except TelegramError as error:
            log.warning("could not download %s: %s", sent.file_unique_id, error)
            return b""
        return bytes(data) if len(data) <= limit else b""

    def _addressed_to_me(self, text: str) -> bool:
        """In groups: only commands, and only those without a bot name or with ours."""
        if not text.startswith("/"):
            return False
        command = text.split()[0]
        mine = (self.bot.username or "").lower()
        return "@" not in command or command.split("@", 1)[1].lower() == mine

    # -- outbound -----------------------------------------------------------------------------------------------

    async def send_one(self, chat_id: str, part: Rendered, context: dict[str, Any]) -> None:
        if "callback" in context:
            try:
                await self.bot.answer_callback_query(str(context["callback"]), text=part.text[:200] or None)
            except TelegramError as error:  # too old to answer: nothing to do
                log.debug("callback query not answered: %s", error)
            if part.notice:
                return
        await self._send_part(int(chat_id), part, context.get("edit"))

    async def _send_part(self, chat_id: int, part: Rendered, edit_message_id: int | None) -> None:
        bot = self.bot
        rows = [[InlineKeyboardButton(b.label, callback_data=b.action) for b in row] for row in part.buttons]
        inline = InlineKeyboardMarkup(rows) if rows else None
        if part.progress and not part.request_contact and part.document is None and not part.photo:
            await self._send_progress(chat_id, part, inline)
            return
        if part.edit and edit_message_id is not None and not part.request_contact:
            try:
                edit = {"message_id": edit_message_id, "text": part.text, "reply_markup": inline}
                await self._call(bot.edit_message_text, chat_id, "editMessageText", **edit)
                return
            except SendFailed as error:
                if "not modified" in str(error).lower():
                    return
                log.info("could not edit message %s (%s); sending a new one", edit_message_id, error)
        if part.request_contact:  # one message: a reply keyboard cannot go with inline buttons
            await self._call(bot.send_message, chat_id, "sendMessage", text=part.text,
                             reply_markup=_contact_keyboard(part))
            self._reply_keyboards[chat_id] = None
            self._reply_keyboards.move_to_end(chat_id)
            while len(self._reply_keyboards) > MAX_KEYBOARDS_KEPT:
                self._reply_keyboards.popitem(last=False)
        elif part.photo and len(part.text) <= CAPTION_LIMIT:
            try:
                await self._post(bot.send_photo, chat_id, inline, photo=_photo(part.photo), caption=part.text)
            except SendFailed as error:  # a photo Telegram cannot use: the message still goes
                log.info("photo not sent to %s (%s); sending the text alone", chat_id, error)
                await self._post(bot.send_message, chat_id, inline, text=part.text)
        else:
            if part.photo:
                with contextlib.suppress(SendFailed):
                    await self._post(bot.send_photo, chat_id, None, photo=_photo(part.photo))
            await self._post(bot.send_message, chat_id, inline, text=part.text)
        if part.document is not None:
            document = await self._document(part)
            if part.request_contact:  # the keyboard just shown stays up
                await self._call(bot.send_document, chat_id, "sendDocument", document=document)
            else:
                await self._post(bot.send_document, chat_id, None, document=document)

    async def _document(self, part: Rendered) -> InputFile:
        if isinstance(part.document, Attachment):
            return InputFile(part.document.data, filename=part.document.filename)
        assert part.document is not None
        try:
            name, data = await load_document(self.services.db, part.document, self.services.memo_place)
        except StaleAction as error:
            raise SendFailed(f"the document is gone: {error}") from error
        return InputFile(data, filename=name)

    async def _send_progress(self, chat_id: int, part: Rendered, inline: InlineKeyboardMarkup | None) -> None:
        """A progress report edits the chat's last report of its key, when this process sent it; otherwise (the
        first one, or sent by another replica or before a restart) it is a new message, remembered for the next."""
        key = (chat_id, part.progress)
        shown = self._progress.get(key)
        if shown is not None:
            try:
                edit = {"message_id": shown, "text": part.text, "reply_markup": inline}
                await self._call(self.bot.edit_message_text, chat_id, "editMessageText", **edit)
                return
            except SendFailed as error:
                if "not modified" in str(error).lower():
                    return
                log.info("could not edit progress message %s (%s); sending a new one", shown, error)
        message = await self._post(self.bot.send_message, chat_id, inline, text=part.text)
        self._progress[key] = message.message_id
        self._progress.move_to_end(key)
        while len(self._progress) > MAX_PROGRESS_KEPT:
            self._progress.popitem(last=False)

    async def _post(self, method: Any, chat_id: int, inline: InlineKeyboardMarkup | None, **kwargs: Any) -> Any:
        """Send a message with its inline keyboard; one without any removes the phone step's reply keyboard if the
        chat shows it (a message has one markup: the removal waits for a message without inline buttons)."""
        removes = inline is None and chat_id in self._reply_keyboards
        markup = ReplyKeyboardRemove() if removes else inline
        result = await self._call(method, chat_id, method.__name__, reply_markup=markup, **kwargs)
        if removes:
            self._reply_keyboards.pop(chat_id, None)
        return result

    async def _call(self, method: Any, chat_id: int, what: str, **kwargs: Any) -> Any:
        """One Bot API call that puts a message in a chat, in the chat's turn (bot/pacing.py); failures sorted as
        bot/retry.py names them (the outbox tries again or gives up)."""
        if self.pacer is not None:
            await self.pacer.wait(str(chat_id))
        if self.sends is not None:
            self.sends.add()
        try:
            return await method(chat_id=chat_id, **kwargs)
        except TelegramError as error:
            outcome = translated(error, what)
            if isinstance(outcome, Throttled) and self.pacer is not None:
                self.pacer.throttled(str(chat_id), outcome.retry_after)
            raise outcome from None


# -- the declaration (bot/channels.py) ----------------------------------------------------------------------------


def _pacer(shared: Shared) -> Pacer:
    telegram = shared.settings.telegram
    return shared.pacer("telegram", lambda: Pacer(telegram.messages_per_second, telegram.chat_gap_seconds))


def _build(shared: Shared) -> TelegramChannel:
    return TelegramChannel(shared.conversation, shared.settings.telegram, sends=shared.replies, pacer=_pacer(shared))


def broadcast_lane(shared: Shared) -> Lane:
    """The Telegram lane as configured: free (about 30 a second) or paid broadcasts (up to 1000), giving way to
    the replies this process sends."""
    b, telegram = shared.settings.broadcast, shared.settings.telegram
    assert telegram.token is not None
    rate, in_flight = (b.telegram_paid_rate, b.telegram_paid_in_flight) if b.telegram_paid else (
        b.telegram_rate, b.telegram_in_flight)
    transport = TelegramTransport(
        telegram.token.get_secret_value(), telegram.base_url, paid=b.telegram_paid,
        timeout=b.send_timeout_seconds, connections=in_flight + 2,
    )
    return Lane(transport, SendRate(rate, interactive=shared.replies), in_flight, pacer=_pacer(shared))


CHANNEL = ChannelSpec(
    name="telegram",
    section="telegram",
    enabled_by="telegram.token",
    configured=lambda settings: settings.telegram.token is not None,
    admins="telegram",
    build=_build,
    broadcast=broadcast_lane,
)
