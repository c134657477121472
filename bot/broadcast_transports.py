"""How the broadcast sender reaches each platform: one message per recipient, and every failure sorted into what to
do next — wait (Throttled), give up on this recipient (SendFailed, RecipientBlocked), try again later (TryLater),
or stop the channel (ChannelUnavailable).

Telegram: python-telegram-bot's ``Bot`` on an aiohttp request layer. PTB's default layer (httpx) spends a few
milliseconds of CPU a request in its connection pool, which caps one core near 250 messages a second; paid
broadcasts go up to 1000. The broadcast message itself skips PTB's per-call machinery (a parameter object and a
JSON encoding per field, the URL encoding of the whole text, a Message object for the answer: about a third of
the sender's CPU at 1000 a second): the form is encoded once per broadcast, and each send adds its chat id.
Zalo Bot Platform: the Zalo channel's own API client (bot/zalo_bot.py).

A broadcast's photo is a link, or a picture the admin sent (a ``StoredFile``): Telegram uploads it once and then
sends Telegram's file id; Zalo fetches it by a signed link to our web server.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    NetworkError,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

from bot.retry import ChannelUnavailable, RecipientBlocked, SendFailed, Throttled, TryLater
from bot.telegram_errors import translated
from bot.zalo_base import ZaloApiError, bot_api_outcome, photo_payload
from handlers.messages import Attachment, Reply
from models.stored_files import StoredFile

if TYPE_CHECKING:  # bot/zalo_bot.py builds its broadcast lane from ZaloBotTransport
    from bot.zalo_bot import ZaloBotChannel

CAPTION_LIMIT = 1024  # Telegram photo captions; a longer text goes as a message with the photo as its preview


class Transport(ABC):
    """One platform, as the broadcast sender uses it."""

    channel: str
    can_edit: bool = False  # can it edit a message it sent (the admin's progress message)?

    async def start(self) -> None:  # noqa: B027 - nothing to do for most platforms
        """Connect (and check the credentials)."""

    async def stop(self) -> None:  # noqa: B027
        """Disconnect."""

    @abstractmethod
    async def send(self, chat_id: str, text: str, photo: str | StoredFile = "") -> str:
        """Send one broadcast message (the photo: a link, or a picture kept for it); the platform's message id."""

    async def send_report(self, chat_id: str, reply: Reply) -> str:
        """Send a progress message (with its buttons); its message id. Only for transports that can edit."""
        raise NotImplementedError

    async def edit_report(self, chat_id: str, message_id: str, reply: Reply) -> None:
        raise NotImplementedError


# -- Telegram ---------------------------------------------------------------------------------------------------


class AiohttpRequest(BaseRequest):
    """PTB's HTTP layer on aiohttp: one connection pool of ``connections``, ``timeout`` seconds per call."""

    def __init__(self, connections: int, timeout: float) -> None:
        self._connections = connections
        self._timeout = timeout
        self._client_timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._timeout

    async def initialize(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        data: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] = {}
        if request_data is not None and request_data.contains_files:
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mime) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            data = form
        elif request_data is not None:  # encoded here: aiohttp's form machinery costs more than the request
            data = request_data.url_encoded_parameters().encode()
            headers = FORM
        timeout = read_timeout if isinstance(read_timeout, int | float) else self._timeout
        return await self.fetch(method, url, data, headers, timeout)

    async def post_form(self, url: str, body: bytes) -> tuple[int, bytes]:
        """POST a form already URL-encoded: the HTTP status and the answer."""
        return await self.fetch("POST", url, body, FORM, self._timeout)

    async def fetch(
        self, method: str, url: str, data: aiohttp.FormData | bytes | None, headers: dict[str, str], timeout: float
    ) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialised")
        limit = self._client_timeout if timeout == self._timeout else aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=limit) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut(f"no answer in {timeout:g} s") from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class TelegramTransport(Transport):
    channel = "telegram"
    can_edit = True

    def __init__(self, token: str, base_url: str, *, paid: bool, timeout: float, connections: int) -> None:
        self.paid = paid
        self.http = AiohttpRequest(connections, timeout)
        self.bot = Bot(token, base_url=base_url, request=self.http)
        self._forms: dict[tuple[str, str], tuple[str, bytes]] = {}  # (text, photo) -> method URL, encoded form
        self._uploaded: dict[int, str] = {}  # kept picture -> Telegram's file id, once uploaded
        self._uploading: dict[int, asyncio.Lock] = {}

    async def start(self) -> None:
        try:
            await self.bot.initialize()
        except TelegramError as error:
            raise translated(error) from None

    async def stop(self) -> None:
        await self.bot.shutdown()

    async def send(self, chat_id: str, text: str, photo: str | StoredFile = "") -> str:
        if isinstance(photo, StoredFile):
            uploaded = await self._upload(chat_id, text, photo)
            if uploaded is not None:  # this recipient got the first copy
                return uploaded
            photo = self._uploaded[photo.id or 0]
        url, form = self._forms.get((text, photo)) or self._form(text, photo)
        try:
            status, answer = await self.http.post_form(url, b"chat_id=%d&%s" % (int(chat_id), form))
        except TelegramError as error:  # the connection: timed out, refused, cut
            raise translated(error) from None
        return _message_id(_result(status, answer))

    async def _upload(self, chat_id: str, text: str, picture: StoredFile) -> str | None:
        """The first send of a kept picture uploads it (one at a time); Telegram's file id serves every later send.
        The message id when this send was the upload, None when the picture was already there."""
        key = picture.id or 0
        async with self._uploading.setdefault(key, asyncio.Lock()):
            if key in self._uploaded:
                return None
            try:
                message = await self.bot.send_photo(
                    int(chat_id), InputFile(picture.data, filename=picture.filename), caption=text[:CAPTION_LIMIT],
                    allow_paid_broadcast=self.paid or None,
                )
            except TelegramError as error:
                raise translated(error) from None
            if message.photo:
                self._uploaded[key] = message.photo[-1].file_id
            return str(message.message_id)

    def _form(self, text: str, photo: str) -> tuple[str, bytes]:
        """The method and the form (but the chat) of a broadcast message, encoded once: every send is the same."""
        params: dict[str, str] = {"allow_paid_broadcast": "true"} if self.paid else {}
        if photo and len(text) <= CAPTION_LIMIT:
            method, params["photo"], params["caption"] = "sendPhoto", photo, text
        else:
            method, params["text"] = "sendMessage", text
            if photo:  # shown above the text, large: one message keeps the photo with a text too long for a caption
                preview = LinkPreviewOptions(url=photo, prefer_large_media=True, show_above_text=True)
                params["link_preview_options"] = json.dumps(preview.to_dict())
        if len(self._forms) >= 8:  # a broadcast or two at a time
            self._forms.clear()
        found = self._forms[(text, photo)] = (f"{self.bot.base_url}/{method}", urlencode(params).encode())
        return found

    async def send_report(self, chat_id: str, reply: Reply) -> str:
        try:
            message = await self.bot.send_message(int(chat_id), reply.text, reply_markup=_keyboard(reply))
        except TelegramError as error:
            raise translated(error) from None
        return str(message.message_id)

    async def edit_report(self, chat_id: str, message_id: str, reply: Reply) -> None:
        try:
            await self.bot.edit_message_text(
                reply.text, chat_id=int(chat_id), message_id=int(message_id), reply_markup=_keyboard(reply)
            )
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise SendFailed(str(error)) from error
        except TelegramError as error:
            raise translated(error) from None


def _keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = [[InlineKeyboardButton(b.label, callback_data=b.action) for b in row] for row in reply.buttons]
    return InlineKeyboardMarkup(rows) if rows else None


def _result(status: int, answer: bytes) -> Any:
    """The result of a Bot API answer; an error sorted as bot/telegram_errors.py sorts PTB's exceptions for the
    same answer (errors are raised ``from None``: PTB's InvalidToken text holds the token)."""
    try:
        body = json.loads(answer)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TryLater(f"HTTP {status}: not a Bot API answer: {answer[:200]!r}")
    if 200 <= status <= 299:
        return body.get("result")
    description = str(body.get("description") or f"HTTP {status}")
    parameters = body.get("parameters") or {}
    if parameters.get("migrate_to_chat_id"):
        raise SendFailed(f"{description} (the group is now {parameters['migrate_to_chat_id']})")
    if parameters.get("retry_after"):
        raise Throttled(float(parameters["retry_after"]))
    if status == 403:
        raise RecipientBlocked(description)
    if status in {401, 404}:
        raise ChannelUnavailable(f"Telegram refused the token: {description}")
    if status == 400:
        raise SendFailed(description)
    raise TryLater(f"HTTP {status}: {description}")


# -- Zalo Bot Platform ------------------------------------------------------------------------------------------


class ZaloBotTransport(Transport):
    """Through the running Zalo Bot channel's client, so that a refused token stops both the same way."""

    channel = "zalo_bot"

    def __init__(self, api: ZaloBotChannel, *, timeout: float) -> None:
        self.api = api
        self.timeout = timeout
        self._links: dict[int, str] = {}  # a broadcast picture's lasting link, by its stored file

    async def stop(self) -> None:
        await self.api.stop()

    async def send(self, chat_id: str, text: str, photo: str | StoredFile = "") -> str:
        if isinstance(photo, StoredFile):  # fetched by Zalo from our web server, again when an old chat is opened
            assert photo.id is not None
            if photo.id not in self._links:  # kept a year from the first send on
                self._links[photo.id] = await self.api.photo_link(Attachment(photo.filename, b"", photo.mime, photo.id))
            photo = self._links[photo.id]
        try:
            if photo:
                with suppress(SendFailed):  # a photo Zalo cannot fetch: the text still goes
                    return _message_id(await self._call("sendPhoto", photo_payload(chat_id, photo, text)))
            return _message_id(await self._call("sendMessage", {"chat_id": chat_id, "text": text}))
        except ZaloApiError as error:
            raise self._translated(error) from error

    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        try:
            return await self.api.call(method, payload, timeout=self.timeout)
        except ZaloApiError as error:
            if method == "sendPhoto" and error.code in {400, 404}:
                raise SendFailed(str(error)) from error
            raise

    def _translated(self, error: ZaloApiError) -> Exception:
        outcome = bot_api_outcome(error)
        if isinstance(outcome, ChannelUnavailable):
            self.api.refuse(str(outcome))
        return outcome


def _message_id(result: Any) -> str:
    return str(result.get("message_id", "")) if isinstance(result, dict) else ""
