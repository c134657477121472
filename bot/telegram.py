"""The Telegram channel on python-telegram-bot 22: polling or webhook, inline buttons, photos, documents, limits.

PTB does the HTTP; our Conversation does the talking. Every update goes through one TypeHandler that maps it to an
Incoming, lets the Conversation answer it exactly once (update_id is stored with its effects), and sends what it
returned. Flood limits: AIORateLimiter (30 msg/s overall, 20/min per group, RetryAfter waited out and retried)
plus the 1 msg/s per private chat that it does not enforce. Broadcasts go through a lane of their own
(bot/broadcast_transports.py TelegramTransport), which gives way to the replies counted here.

The phone step: a reply asking for the phone number (``request_contact``) is one message with a reply keyboard —
the "share my number" button, and the reply's other buttons (Skip) as text buttons on a row of their own, whose
press sends their label as text. The next message to that chat that has no inline keyboard removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from aiohttp import web
from aiolimiter import AsyncLimiter
from telegram import (
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
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.broadcast_sender import Lane, SendRate
from bot.broadcast_transports import TelegramTransport
from bot.channel import ChannelRuntime, ChannelSpec, RecentSends, Shared
from bot.config import TelegramSettings
from handlers.app import COMMANDS, Conversation
from handlers.delivery import RecipientBlocked
from handlers.i18n import LANGUAGES, translator
from handlers.memos import load_document
from handlers.messages import Attachment, Capabilities, Incoming
from handlers.render import Rendered
from models.stored_files import MAX_IMAGE_BYTES
from models.tabular import MAX_FILE_BYTES

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MENU = ("start", "search", "browse", "requests", "memos", "events", "link", "help", "lang", "cancel")
CAPTION_LIMIT = 1024
SEND_ATTEMPTS = 4
MAX_UPLOAD = MAX_FILE_BYTES  # the largest file a user may send us (catalogue lists)
MAX_KEYBOARDS_KEPT = 10_000  # chats remembered as showing a reply keyboard (the oldest are forgotten)


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


class ChatRateLimiter(AIORateLimiter):
    """AIORateLimiter plus Telegram's limit of about one message a second to each private chat."""

    def __init__(self, per_chat_per_second: float = 1.0, max_chats: int = 10_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._per_chat = per_chat_per_second
        self._max_chats = max_chats
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.pop(chat_id, None) or AsyncLimiter(1, 1 / self._per_chat)
        self._chats[chat_id] = limiter
        while len(self._chats) > self._max_chats:
            self._chats.popitem(last=False)
        return limiter

    async def process_request(  # type: ignore[override]
        self, callback: Any, args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id = data.get("chat_id")
        private = (isinstance(chat_id, int) and chat_id > 0) or (isinstance(chat_id, str) and chat_id.isdigit())
        if private and not data.get("allow_paid_broadcast"):
            async with self._chat_limiter(int(chat_id)):  # type: ignore[arg-type]
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class CountingRateLimiter(ChatRateLimiter):
    """The interactive channel's rate limiter, counting the messages it sends for the broadcast lane to give way to."""

    def __init__(self, recent: RecentSends, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recent = recent

    async def process_request(  # type: ignore[override]
        self, callback: Any, args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if endpoint.startswith(("send", "edit", "copy", "forward")):
            self.recent.add()
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class TelegramChannel(ChannelRuntime):
    name = "telegram"
    capabilities = Capabilities(max_text=4096, max_buttons=100)

    def __init__(
        self, conversation: Conversation, settings: TelegramSettings, *, rate_limiter: AIORateLimiter | None = None
    ) -> None:
        super().__init__(conversation)
        if settings.token is None:
            raise ValueError("telegram.token is not set")
        self.settings = settings
        builder = (
            ApplicationBuilder()
            .token(settings.token.get_secret_value())
            .base_url(settings.base_url)
            .base_file_url(settings.base_url.replace("/bot", "/file/bot"))
            .rate_limiter(rate_limiter or ChatRateLimiter(max_retries=3))
            .concurrent_updates(256)  # one chat stays in order: the Conversation holds a lock per chat
        )
        if settings.mode == "webhook":
            builder = builder.updater(None)
        self.application: Application = builder.build()  # type: ignore[type-arg]
        # Chats showing the phone step's reply keyboard, until a message removes it. In this process's memory: a
        # restart, or a reply sent by another replica, leaves it up (it hides once pressed: one_time_keyboard).
        self._reply_keyboards: OrderedDict[int, None] = OrderedDict()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, web_app: web.Application | None = None) -> None:  # type: ignore[override]
        """Initialise PTB, publish the command menus, and start polling or the webhook."""
        if self.settings.mode == "webhook":
            if web_app is None:
                raise ValueError("webhook mode needs the web server")
            web_app.router.add_post(f"/telegram/{self.settings.webhook_path}", self.webhook)
        await self.application.initialize()
        await self.set_commands()
        await self.application.start()
        if self.settings.mode == "webhook":
            secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else None
            if self.settings.webhook_url:
                await self.application.bot.set_webhook(
                    self.settings.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
                )
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        log.info("telegram channel started (%s) as @%s", self.settings.mode, self.application.bot.username)

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def set_commands(self) -> None:
        for language in LANGUAGES:
            t = translator(language)
            commands = [BotCommand(name, t(f"menu.{name}")) for name in MENU if name in COMMANDS]
            code = None if language == "vi" else language  # Vietnamese is the default menu
            await self.application.bot.set_my_commands(commands, language_code=code)

    # -- inbound ------------------------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /telegram/<path>: check the secret in constant time, queue the update, answer at once."""
        expected = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json(loads=json.loads)
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="bad update")
        await self.application.update_queue.put(update)
        return web.Response(text="ok")

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        incoming = self.to_incoming(update)
        query = update.callback_query
        if incoming is None:
            if query:
                await query.answer()
            return
        message = update.message
        if message is not None and not incoming.is_group:
            if message.document is not None and incoming.document_name:
                incoming = replace(incoming, document_data=await self._download(message.document, MAX_UPLOAD))
            elif message.photo and await self.conversation.wants_image(incoming):  # the largest size small enough
                fitting = [size for size in message.photo if (size.file_size or 0) <= MAX_IMAGE_BYTES]
                if fitting:
                    largest = max(fitting, key=lambda size: size.width * size.height)
                    incoming = replace(incoming, image=await self._download(largest, MAX_IMAGE_BYTES))
        rendered = await self.conversation.handle(incoming, self.capabilities, update_key=str(update.update_id))
        if rendered is None:  # a redelivery, already answered
            return
        if query is not None:
            notices = [part for part in rendered if part.notice]
            await self._answer(query, notices[0].text if notices else None)
            rendered = [part for part in rendered if not part.notice]
        message_id = query.message.message_id if query is not None and query.message is not None else None
        try:
            await self.send(incoming.chat_id, rendered, edit_message_id=message_id)
        except RecipientBlocked:
            await self.mark_blocked(incoming.user_id)

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
            data = await (await sent.get_file()).download_as_bytearray()
        except TelegramError as error:
            log.warning("could not download %s: %s", sent.file_unique_id, error)
            return b""
        return bytes(data) if len(data) <= limit else b""

    def _addressed_to_me(self, text: str) -> bool:
        """In groups: only commands, and only those without a bot name or with ours."""
        if not text.startswith("/"):
            return False
        command = text.split()[0]
        mine = (self.application.bot.username or "").lower()
        return "@" not in command or command.split("@", 1)[1].lower() == mine

    async def _answer(self, query: Any, notice: str | None) -> None:
        with contextlib.suppress(BadRequest):  # too old to answer: nothing to do
            await query.answer(text=notice[:200] if notice else None)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", context.error, exc_info=context.error)

    # -- outbound -----------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, rendered: list[Rendered], *, edit_message_id: int | None = None) -> None:
        for part in rendered:
            await self._send_part(int(chat_id), part, edit_message_id)

    async def _send_part(self, chat_id: int, part: Rendered, edit_message_id: int | None) -> None:
        bot = self.application.bot
        rows = [[InlineKeyboardButton(b.label, callback_data=b.action) for b in row] for row in part.buttons]
        inline = InlineKeyboardMarkup(rows) if rows else None
        if part.edit and edit_message_id is not None and not part.request_contact:
            try:
                edit = {"chat_id": chat_id, "message_id": edit_message_id, "text": part.text, "reply_markup": inline}
                await self._call(bot.edit_message_text, **edit)
                return
            except BadRequest as error:
                if "not modified" in str(error).lower():
                    return
                log.info("could not edit message %s (%s); sending a new one", edit_message_id, error)
        if part.request_contact:  # one message: a reply keyboard cannot go with inline buttons
            await self._call(bot.send_message, chat_id=chat_id, text=part.text, reply_markup=_contact_keyboard(part))
            self._reply_keyboards[chat_id] = None
            self._reply_keyboards.move_to_end(chat_id)
            while len(self._reply_keyboards) > MAX_KEYBOARDS_KEPT:
                self._reply_keyboards.popitem(last=False)
        elif part.photo and len(part.text) <= CAPTION_LIMIT:
            await self._post(bot.send_photo, chat_id, inline, photo=_photo(part.photo), caption=part.text)
        else:
            if part.photo:
                await self._post(bot.send_photo, chat_id, None, photo=_photo(part.photo))
            await self._post(bot.send_message, chat_id, inline, text=part.text)
        if part.document is not None:
            name, data = await load_document(self.services.db, part.document, self.services.memo_place)
            document = InputFile(data, filename=name)
            if part.request_contact:  # the keyboard just shown stays up
                await self._call(bot.send_document, chat_id=chat_id, document=document)
            else:
                await self._post(bot.send_document, chat_id, None, document=document)

    async def _post(self, method: Any, chat_id: int, inline: InlineKeyboardMarkup | None, **kwargs: Any) -> Any:
        """Send a message with its inline keyboard; one without any removes the phone step's reply keyboard if the
        chat shows it (a message has one markup: the removal waits for a message without inline buttons)."""
        removes = inline is None and chat_id in self._reply_keyboards
        result = await self._call(method, chat_id=chat_id, reply_markup=ReplyKeyboardRemove() if removes else inline,
                                  **kwargs)
        if removes:
            self._reply_keyboards.pop(chat_id, None)
        return result

    async def _call(self, method: Any, **kwargs: Any) -> Any:
        """Call the Bot API; retry network errors with backoff; 403 means the user blocked the bot."""
        for attempt in range(SEND_ATTEMPTS):
            try:
                return await method(**kwargs)
            except Forbidden as error:
                raise RecipientBlocked(str(error)) from error
            except RetryAfter:
                raise  # the rate limiter already waited and retried
            except (TimedOut, NetworkError) as error:
                if isinstance(error, BadRequest) or attempt == SEND_ATTEMPTS - 1:
                    raise
                delay = 0.5 * 2**attempt
                log.warning("telegram call failed (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


# -- the declaration (bot/channels.py) ----------------------------------------------------------------------------


def _build(shared: Shared) -> TelegramChannel:
    limiter = CountingRateLimiter(shared.replies, max_retries=3)  # the broadcast lane gives way to these replies
    return TelegramChannel(shared.conversation, shared.settings.telegram, rate_limiter=limiter)


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
    return Lane(transport, SendRate(rate, interactive=shared.replies), in_flight)


CHANNEL = ChannelSpec(
    name="telegram",
    section="telegram",
    enabled_by="telegram.token",
    configured=lambda settings: settings.telegram.token is not None,
    admins="telegram",
    build=_build,
    broadcast=broadcast_lane,
)
