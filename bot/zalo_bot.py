"""The Zalo Bot Platform channel (Telegram-like API, no SDK): long polling or a webhook, text in, text and photos
out. No buttons (numbered options), no files (memos, exports and charts go as signed links), messages of at most
2000 characters.

Calls are ``POST {base_url}/bot{TOKEN}/{method}`` with a JSON body; errors arrive with HTTP 200 and ``ok: false``:
401 stops the channel, 429 is waited out, 403 means the user blocked the bot, 408 on getUpdates means "no update".
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
from aiohttp import web

from bot.broadcast_sender import Lane, SendRate
from bot.broadcast_transports import ZaloBotTransport
from bot.channel import ChannelSpec, Shared
from bot.config import ZaloBotSettings
from bot.links import LinkSigner
from bot.zalo_base import Backoff, ZaloApiError, ZaloChannel, link_signer_of, network_error, request_id
from handlers.app import Conversation
from handlers.delivery import ChannelUnavailable, RecipientBlocked
from handlers.messages import Attachment, Capabilities, Incoming
from handlers.render import Rendered

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
SEND_ATTEMPTS = 4
NO_UPDATE = 408
REFUSED = "Zalo refused the bot token (401): check zalo.bot.token (a reset token stops working at once)"


class ZaloBotChannel(ZaloChannel):
    name = "zalo_bot"
    capabilities = Capabilities(
        buttons=False, edits=False, documents=True, photos=True, request_contact=False, max_text=2000
    )

    def __init__(
        self, conversation: Conversation, settings: ZaloBotSettings, signer: LinkSigner, backoff: Backoff | None = None
    ) -> None:
        super().__init__(conversation, signer, backoff or Backoff())
        if settings.token is None:
            raise ValueError("zalo.bot.token is not set")
        self.settings = settings
        self._token = settings.token.get_secret_value()
        self._secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, web_app: web.Application) -> None:
        """Add the webhook route (webhook mode), say who we are, register the webhook with Zalo."""
        if self.settings.mode == "webhook":
            web_app.router.add_post(f"/zalo/bot/{self.settings.webhook_path}", self.webhook)
        try:
            me = await self.call("getMe")
            me = me if isinstance(me, dict) else {}
            log.info("zalo_bot: connected as %s (%s), %s", me.get("account_name"), me.get("id"), self.settings.mode)
            if self.settings.mode == "webhook" and self.settings.webhook_url:
                await self.call("setWebhook", {"url": self.settings.webhook_url, "secret_token": self._secret})
        except ZaloApiError as error:
            if error.code == 401:
                self.refuse_token()
            else:
                log.warning("zalo_bot: could not finish starting (%s); carrying on", error)

    def loops(self) -> list[Awaitable[None]]:
        return [self.poll()] if self.settings.mode == "polling" else []

    def refuse_token(self) -> None:
        """Zalo answered 401: the token is wrong or was reset."""
        self.refuse(REFUSED)

    # -- inbound ------------------------------------------------------------------------------------------------

    async def poll(self) -> None:
        """deleteWebhook, then getUpdates until the token is refused; one update per answer."""
        try:
            await self.call("deleteWebhook")
        except ZaloApiError as error:
            log.warning("zalo_bot: deleteWebhook failed (%s)", error)
        timeout = self.settings.poll_timeout
        failures = 0
        while not self.refused.is_set() and not self.stopping.is_set():
            try:
                result = await self.unless_stopping(
                    self.call("getUpdates", {"timeout": str(timeout)}, timeout=timeout + 15)
                )
            except ZaloApiError as error:
                if error.code == NO_UPDATE:
                    failures = 0
                    continue
                if error.code == 401:
                    self.refuse_token()
                    return
                delay = error.retry_after or self.backoff.delay(failures)
                failures += 1
                log.warning("zalo_bot: getUpdates failed (%s); again in %.1fs", error, delay)
                await self.pause(delay)
                continue
            if self.stopping.is_set():
                return
            failures = 0
            for update in result if isinstance(result, list) else [result]:
                self.accept(update)

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /zalo/bot/<path>: the secret header checked in constant time, then answered at once."""
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            return web.Response(status=403, text="forbidden")
        if self.refused.is_set():
            return web.Response(status=503, text="channel stopped")
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if isinstance(body, dict) and "event_name" not in body and isinstance(body.get("result"), dict):
            body = body["result"]  # some senders wrap the update like an API answer
        self.accept(body)
        return web.json_response({"ok": True})

    def accept(self, update: Any) -> None:
        parsed = self.to_incoming(update) if isinstance(update, dict) else None
        if parsed is None:
            log.debug("zalo_bot: ignored an update without a user message")
            return
        incoming, key = parsed
        self.submit(incoming, key, file_url=_image_url(update) if incoming.media == "image" else "")

    def to_incoming(self, update: dict[str, Any]) -> tuple[Incoming, str] | None:
        """(Incoming, update key) for a user's message; the key is event name + message id (no update ids)."""
        event = str(update.get("event_name") or "")
        message = update.get("message")
        if not isinstance(message, dict):
            return None
        sender = message.get("from") if isinstance(message.get("from"), dict) else {}
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        user_id = str(sender.get("id") or "")
        if not user_id or sender.get("is_bot"):
            return None
        chat_id = str(chat.get("id") or user_id)
        message_id = str(message.get("message_id") or "")
        key = f"{event}:{message_id}" if message_id else f"{event}:{chat_id}:{message.get('date', '')}"
        common: dict[str, Any] = {
            "channel": self.name,
            "user_id": user_id,
            "chat_id": chat_id,
            "display_name": str(sender.get("display_name") or ""),
            "is_group": str(chat.get("chat_type") or "PRIVATE").upper() != "PRIVATE",
        }
        kind = event.removeprefix("message.").removesuffix(".received") or "unsupported"
        text = str(message.get("text") or message.get("caption") or "")
        if kind == "image":  # its caption (if any) is read as text, unless a flow wants the picture itself
            return Incoming(text=text, media="image", **common), key[:200]
        if kind == "text" or (kind == "link" and text):
            return Incoming(text=text, **common), key[:200]
        return Incoming(media=kind, **common), key[:200]

    # -- outbound -----------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, rendered: list[Rendered]) -> None:
        for part in rendered:
            photo, texts = await self.outgoing(part)
            if photo.startswith(("https://", "http://")):
                payload = {"chat_id": chat_id, "photo": photo, "caption": texts[0] if texts else ""}
                try:
                    await self.call_retrying("sendPhoto", payload)
                    texts = texts[1:]
                except ZaloApiError as error:
                    if error.code not in {400, 404}:
                        raise
                    log.info("zalo_bot: photo not sent (%s); sending the text alone", error)
                    if isinstance(part.photo, Attachment):  # an image we made: its link still reaches the user
                        texts.append("🖼 " + photo)
            for text in texts:
                await self.call_retrying("sendMessage", {"chat_id": chat_id, "text": text})

    async def typing(self, chat_id: str) -> None:
        try:
            await self.call("sendChatAction", {"chat_id": chat_id, "action": "typing"}, timeout=5)
        except (ZaloApiError, ChannelUnavailable) as error:
            log.debug("zalo_bot: no typing indicator: %s", error)

    async def call_retrying(self, method: str, payload: dict[str, Any]) -> Any:
        """A sending call: 429 and network errors retried with backoff, 401 stops the channel, 403 = blocked."""
        for attempt in range(SEND_ATTEMPTS):
            try:
                return await self.call(method, payload)
            except ZaloApiError as error:
                if error.code == 401:
                    self.refuse_token()
                    raise ChannelUnavailable(str(error)) from error
                if error.code == 403:
                    raise RecipientBlocked(str(error)) from error
                if error.code not in {0, 429} or attempt == SEND_ATTEMPTS - 1:
                    raise
                delay = error.retry_after or self.backoff.delay(attempt)
                log.warning("zalo_bot: %s; retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def call(self, method: str, payload: dict[str, Any] | None = None, *, timeout: float = 30) -> Any:
        """One API call; the result, or ZaloApiError (code 0 for a network failure)."""
        self.check_usable()
        url = f"{self.settings.base_url.rstrip('/')}/bot{self._token}/{method}"
        reference = request_id()
        try:
            async with self.http.post(
                url, json=payload or {}, headers={"X-Request-Id": reference},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise network_error(method, error, self._token) from None
        if not isinstance(body, dict):
            raise ZaloApiError(method, status, "the answer is not a JSON object", reference)
        if body.get("ok") is True:
            return body.get("result")
        code = _number(body.get("error_code")) or status
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        retry_after = _number(body.get("retry_after") or parameters.get("retry_after"))
        raise ZaloApiError(method, code, str(body.get("description") or ""), reference, retry_after or None)


def _number(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _image_url(update: dict[str, Any]) -> str:
    """Where Zalo keeps the picture of a message.image.received update (``photo_url``, or ``photo``)."""
    message = update.get("message") if isinstance(update.get("message"), dict) else {}
    return str(message.get("photo_url") or message.get("photo") or "")


# -- the declaration (bot/channels.py) ----------------------------------------------------------------------------


def _build(shared: Shared) -> ZaloBotChannel:
    return ZaloBotChannel(shared.conversation, shared.settings.zalo.bot, link_signer_of(shared))


def broadcast_lane(shared: Shared) -> Lane:
    """Broadcasts go through a client of their own (not started: it only sends), at ``broadcast.zalo_rate``."""
    b = shared.settings.broadcast
    transport = ZaloBotTransport(_build(shared), timeout=b.send_timeout_seconds)
    return Lane(transport, SendRate(b.zalo_rate), b.zalo_in_flight)


CHANNEL = ChannelSpec(
    name="zalo_bot",
    section="zalo.bot",
    enabled_by="zalo.bot.token",
    configured=lambda settings: settings.zalo.bot.token is not None,
    admins="zalo",  # [admins] zalo lists the Zalo ids of both Zalo channels
    build=_build,
    broadcast=broadcast_lane,
)
