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
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from bot.broadcast_sender import Lane, SendRate
from bot.broadcast_transports import ZaloBotTransport
from bot.channel import ChannelSpec, Shared
from bot.config import ZaloBotSettings
from bot.inbox_worker import Prepared
from bot.links import LinkSigner
from bot.retry import ChannelUnavailable, RetryPolicy, Throttled, TryLater
from bot.zalo_base import (
    ZaloApiError,
    ZaloChannel,
    bot_api_outcome,
    link_signer_of,
    network_error,
    photo_payload,
    request_id,
)
from handlers.app import Conversation
from handlers.messages import Attachment, Capabilities, Incoming
from handlers.render import Rendered
from models.inbox import Received

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
NO_UPDATE = 408
ASSUMED = {401: "the token was refused", 403: "the user blocked the bot", 429: "too many requests"}


class ZaloBotChannel(ZaloChannel):
    name = "zalo_bot"
    capabilities = Capabilities(
        buttons=False, edits=False, documents=True, photos=True, request_contact=False, max_text=2000
    )

    def __init__(
        self, conversation: Conversation, settings: ZaloBotSettings, signer: LinkSigner,
        policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(conversation, signer, policy)
        if settings.token is None:
            raise ValueError("zalo.bot.token is not set")
        self.settings = settings
        self._token = settings.token.get_secret_value()
        self._secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, web_app: web.Application) -> None:
        if self.settings.mode == "webhook":
            web_app.router.add_post(f"/zalo/bot/{self.settings.webhook_path}", self.webhook)

    async def connect(self) -> None:
        """Say who we are; register the webhook with Zalo (webhook mode) or remove it (polling)."""
        try:
            me = await self.call("getMe")
            me = me if isinstance(me, dict) else {}
            log.info("zalo_bot: connected as %s (%s), %s", me.get("account_name"), me.get("id"), self.settings.mode)
            if self.settings.mode == "webhook" and self.settings.webhook_url:
                await self.call("setWebhook", {"url": self.settings.webhook_url, "secret_token": self._secret})
            elif self.settings.mode == "polling":
                await self.call("deleteWebhook")
        except ZaloApiError as error:
            outcome = bot_api_outcome(error)
            if isinstance(outcome, ChannelUnavailable | Throttled | TryLater):
                raise outcome from None
            log.warning("zalo_bot: could not finish starting (%s); carrying on", error)

    def loops(self) -> list[Awaitable[None]]:
        return [self.poll()] if self.settings.mode == "polling" else []

    # -- inbound ------------------------------------------------------------------------------------------------

    async def poll(self) -> None:
        """getUpdates until stopped or refused. Zalo confirms an update by handing it out (there is no offset to
        hold back), so each is stored at once; one that cannot be stored is lost, and said so in the log."""
        timeout = self.settings.poll_timeout
        failures = 0
        while not self.stopping.is_set():
            try:
                result = await self.unless_stopping(
                    self.call("getUpdates", {"timeout": str(timeout)}, timeout=timeout + 15)
                )
            except ZaloApiError as error:
                if error.code == NO_UPDATE:
                    failures = 0
                    continue
                outcome = bot_api_outcome(error)
                if isinstance(outcome, ChannelUnavailable):
                    self.refuse(str(outcome))
                    return
                delay = self.policy.delay(failures, error.retry_after)
                failures += 1
                self.count_retry(outcome)
                log.warning("zalo_bot: getUpdates failed (%s); again in %.1fs", error, delay)
                await self.pause(delay)
                continue
            if self.stopping.is_set():
                return
            failures = 0
            batch = [r for r in (self.received(u) for u in (result if isinstance(result, list) else [result]))
                     if r is not None]
            try:
                await self.policy.call(partial(self.receive, batch), what="zalo_bot: storing updates", attempts=5,
                                       stopping=self.stopping)
            except Exception as error:
                log.error("zalo_bot: %d update(s) could not be stored and are lost: %s", len(batch), error)

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /zalo/bot/<path>: the secret header checked in constant time first; the update stored, then 200."""
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            return web.Response(status=403, text="forbidden")
        if self.refused.is_set():
            return web.Response(status=503, text="channel stopped")
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(body, dict):
            return web.Response(status=400, text="not an update")
        if "event_name" not in body and isinstance(body.get("result"), dict):
            body = body["result"]  # some senders wrap the update like an API answer
        received = self.received(body)
        if received is not None:
            try:
                await self.receive([received])
            except Exception as error:  # not stored: Zalo must deliver it again
                log.warning("zalo_bot: an update could not be stored (%s); asking Zalo to retry", error)
                return web.Response(status=503, text="try again")
        return web.json_response({"ok": True})

    def received(self, update: Any) -> Received | None:
        """A user's message as the inbox keeps it; None for anything else (nothing to answer)."""
        parsed = self.to_incoming(update) if isinstance(update, dict) else None
        if parsed is None:
            log.debug("zalo_bot: ignored an update without a user message")
            return None
        incoming, key = parsed
        return Received(key, incoming.chat_id, update)

    async def prepare(self, payload: dict[str, Any]) -> Prepared | None:
        parsed = self.to_incoming(payload)
        if parsed is None:
            return None
        incoming = parsed[0]
        typing = asyncio.create_task(self.typing(incoming.chat_id))
        typing.add_done_callback(lambda task: task.exception() if not task.cancelled() else None)
        if incoming.media == "image":
            incoming = await self.fetched(incoming, _image_url(payload))
        return Prepared(incoming)

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
            "user_id": user_id[:100],
            "chat_id": chat_id[:100],
            "display_name": str(sender.get("display_name") or sender.get("first_name") or "")[:200],
            "is_group": str(chat.get("chat_type") or "PRIVATE").upper() != "PRIVATE",
        }
        text = str(message.get("text") or message.get("caption") or "")
        kind = event.removeprefix("message.").removesuffix(".received") or ("text" if text else "unsupported")
        if kind == "image":  # its caption (if any) is read as text, unless a flow wants the picture itself
            return Incoming(text=text, media="image", **common), key[:200]
        if kind == "text" or (kind == "link" and text):
            return Incoming(text=text, **common), key[:200]
        return Incoming(media=kind[:40], **common), key[:200]

    # -- outbound -----------------------------------------------------------------------------------------------

    async def send_one(self, chat_id: str, part: Rendered, context: dict[str, Any]) -> None:
        photo, texts = await self.outgoing(part)
        try:
            if photo.startswith(("https://", "http://")):
                try:
                    await self.call("sendPhoto", photo_payload(chat_id, photo, texts[0] if texts else ""))
                    texts = texts[1:]
                except ZaloApiError as error:
                    if error.code not in {400, 404}:
                        raise
                    log.info("zalo_bot: photo not sent (%s); sending the text alone", error)
                    if isinstance(part.photo, Attachment):  # an image we made: its link still reaches the user
                        texts.append("🖼 " + photo)
            for text in texts:
                await self.call("sendMessage", {"chat_id": chat_id, "text": text})
        except ZaloApiError as error:
            outcome = bot_api_outcome(error)
            if isinstance(outcome, ChannelUnavailable):
                self.refuse(str(outcome))
            raise outcome from error

    async def typing(self, chat_id: str) -> None:
        try:
            await self.call("sendChatAction", {"chat_id": chat_id, "action": "typing"}, timeout=5)
        except (ZaloApiError, ChannelUnavailable) as error:
            log.debug("zalo_bot: no typing indicator: %s", error)

    async def call(self, method: str, payload: dict[str, Any] | None = None, *, timeout: float = 30) -> Any:
        """One API call; the result, or ZaloApiError (code 0 for a network failure, or an answer that is not the
        API's, such as a proxy's HTML error page)."""
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
                except (ValueError, RecursionError):
                    body = None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise network_error(method, error, self._token) from None
        if not isinstance(body, dict):
            code = status if status >= 500 else 0
            raise ZaloApiError(method, code, f"HTTP {status}: the answer is not the API's", reference)
        if body.get("ok") is True:
            return body.get("result")
        code = _number(body.get("error_code")) or status
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        retry_after = _number(body.get("retry_after") or parameters.get("retry_after"))
        if code in ASSUMED:  # Zalo does not document these: what it said, for operators to correct our reading
            log.warning("zalo_bot: %s answered error %s (read as %s, as on Telegram): HTTP %s %s (request %s)",
                        method, code, ASSUMED[code], status, json.dumps(body, ensure_ascii=False)[:500], reference)
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
