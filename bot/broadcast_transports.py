"""How the broadcast sender reaches each platform: one message per recipient, and every failure sorted into what to
do next — wait (Throttled), give up on this recipient (SendFailed, RecipientBlocked), try again later (TryLater),
or stop the channel (ChannelUnavailable).

Telegram: python-telegram-bot's ``Bot`` on an aiohttp request layer. PTB's default layer (httpx) spends a few
milliseconds of CPU a request in its connection pool, which caps one core near 250 messages a second; paid
broadcasts go up to 1000. Zalo Bot Platform: the Zalo channel's own API client (bot/zalo_bot.py).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from contextlib import suppress
from datetime import timedelta
from typing import Any

import aiohttp
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from bot.zalo_base import ZaloApiError
from bot.zalo_bot import REFUSED, ZaloBotChannel
from handlers.delivery import ChannelUnavailable, RecipientBlocked
from handlers.messages import Reply

CAPTION_LIMIT = 1024  # Telegram photo captions; a longer text goes as a message with the photo as its preview


class Throttled(Exception):
    """The platform asked us to wait (429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"429: retry after {retry_after:g} s")
        self.retry_after = retry_after


class SendFailed(Exception):
    """The platform refused this message for this recipient for good (bad chat, bad photo…)."""


class TryLater(Exception):
    """A network error, a timeout or a server error: the message may be tried again."""


class Transport(ABC):
    """One platform, as the broadcast sender uses it."""

    channel: str
    can_edit: bool = False  # can it edit a message it sent (the admin's progress message)?

    async def start(self) -> None:  # noqa: B027 - nothing to do for most platforms
        """Connect (and check the credentials)."""

    async def stop(self) -> None:  # noqa: B027
        """Disconnect."""

    @abstractmethod
    async def send(self, chat_id: str, text: str, photo: str = "") -> str:
        """Send one broadcast message; the platform's message id."""

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
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._timeout

    async def initialize(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector)

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
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialised")
        data: aiohttp.FormData | bytes | None = None
        headers = {}
        if request_data is not None and request_data.contains_files:
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mime) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            data = form
        elif request_data is not None:  # encoded here: aiohttp's form machinery costs more than the request
            data = request_data.url_encoded_parameters().encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        timeout = read_timeout if isinstance(read_timeout, int | float) else self._timeout
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut(f"no answer in {timeout:g} s") from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


class BroadcastBot(Bot):
    """PTB's Bot with one addition: a call that returns the raw result. A broadcast keeps only the message id, and
    building PTB's Message objects costs a fifth of the CPU a message takes at 1000 a second."""

    async def call(self, endpoint: str, data: dict[str, Any]) -> Any:
        return await self._post(endpoint, data)


class TelegramTransport(Transport):
    channel = "telegram"
    can_edit = True

    def __init__(self, token: str, base_url: str, *, paid: bool, timeout: float, connections: int) -> None:
        self.paid = paid
        self.bot = BroadcastBot(token, base_url=base_url, request=AiohttpRequest(connections, timeout))

    async def start(self) -> None:
        try:
            await self.bot.initialize()
        except TelegramError as error:
            raise _translated(error) from error

    async def stop(self) -> None:
        await self.bot.shutdown()

    async def send(self, chat_id: str, text: str, photo: str = "") -> str:
        data: dict[str, Any] = {"chat_id": int(chat_id)}
        if self.paid:
            data["allow_paid_broadcast"] = True
        if photo and len(text) <= CAPTION_LIMIT:
            method, data["photo"], data["caption"] = "sendPhoto", photo, text
        else:
            method, data["text"] = "sendMessage", text
            if photo:  # shown above the text, large: one message keeps the photo with a text too long for a caption
                preview = LinkPreviewOptions(url=photo, prefer_large_media=True, show_above_text=True)
                data["link_preview_options"] = preview
        try:
            result = await self.bot.call(method, data)
        except TelegramError as error:
            raise _translated(error) from error
        return str(result.get("message_id", "")) if isinstance(result, dict) else ""

    async def send_report(self, chat_id: str, reply: Reply) -> str:
        try:
            message = await self.bot.send_message(int(chat_id), reply.text, reply_markup=_keyboard(reply))
        except TelegramError as error:
            raise _translated(error) from error
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
            raise _translated(error) from error


def _keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = [[InlineKeyboardButton(b.label, callback_data=b.action) for b in row] for row in reply.buttons]
    return InlineKeyboardMarkup(rows) if rows else None


def _translated(error: TelegramError) -> Exception:
    if isinstance(error, RetryAfter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            wait = error.retry_after
        return Throttled(wait.total_seconds() if isinstance(wait, timedelta) else float(wait))
    if isinstance(error, Forbidden):
        return RecipientBlocked(str(error))
    if isinstance(error, InvalidToken):
        return ChannelUnavailable(f"Telegram refused the token: {error}")
    if isinstance(error, BadRequest | ChatMigrated):  # BadRequest is a NetworkError too: sorted first
        return SendFailed(str(error))
    return TryLater(f"{type(error).__name__}: {error}")


# -- Zalo Bot Platform ------------------------------------------------------------------------------------------


class ZaloBotTransport(Transport):
    """Through the running Zalo Bot channel's client, so that a refused token stops both the same way."""

    channel = "zalo_bot"

    def __init__(self, api: ZaloBotChannel, *, timeout: float) -> None:
        self.api = api
        self.timeout = timeout

    async def stop(self) -> None:
        await self.api.stop()

    async def send(self, chat_id: str, text: str, photo: str = "") -> str:
        try:
            if photo:
                with suppress(SendFailed):  # a photo Zalo cannot fetch: the text still goes
                    payload = {"chat_id": chat_id, "photo": photo, "caption": text}
                    return _message_id(await self._call("sendPhoto", payload))
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
        if error.code == 429:
            return Throttled(float(error.retry_after or 1))
        if error.code == 403:
            return RecipientBlocked(str(error))
        if error.code == 401:
            self.api.refuse(REFUSED)
            return ChannelUnavailable(str(error))
        if error.code in {0, 408} or error.code >= 500:
            return TryLater(str(error))
        return SendFailed(str(error))


def _message_id(result: Any) -> str:
    return str(result.get("message_id", "")) if isinstance(result, dict) else ""
