"""The Zalo Official Account channel (Open API v3, no SDK): signed events in by webhook, consultation messages out
with up to five query buttons, OAuth v4 tokens kept in the database.

Events are stored, then acknowledged (Zalo wants an answer within 2 s), and handled after, in order per user. A query
button sends its payload back as if the user had typed it: our payloads are ``#`` + the button's action, which is
recognised on the way in. Messages only reach users who wrote in the last 7 days (error -230): such notifications
wait for the user to write again and the admins are told (handlers.delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.channel import ChannelSpec, Shared
from bot.config import ZaloOASettings
from bot.inbox_worker import Prepared
from bot.links import LinkSigner
from bot.retry import ChannelUnavailable, RecipientUnreachable, RetryPolicy, SendFailed, Throttled, TryLater
from bot.zalo_base import ZaloApiError, ZaloChannel, link_signer_of, network_error, request_id
from bot.zalo_tokens import OATokens, TokenRefused
from handlers.actions import is_payload
from handlers.app import Conversation
from handlers.messages import MAX_ACTION_BYTES, Attachment, Button, Capabilities, Incoming
from handlers.render import Rendered
from models.inbox import Received

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"
TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?([0-9]{1,20})')  # in the raw body, for the signature
MESSAGE_CS = "/v3.0/oa/message/cs"
BUTTON_TYPE = "oa.query.show"  # the payload shows in the chat as the user's message
PAYLOAD_MARK = "#"
MAX_BUTTONS = 5
MAX_TITLE = 100
TOKEN_ERRORS = {-216, -220}  # invalid, expired
UNREACHABLE = {-230: "the user has not written in the last 7 days", -213: "the user does not follow the OA"}
RATE_LIMITED = -32
TOKEN_CHECK_SECONDS = 600.0
TOKEN_RETRY_SECONDS = 60.0
REFUSED = ("Zalo refused to refresh the OA tokens ({error}): re-authorise the app in the Zalo developer console "
           "and set zalo.oa.refresh_token to the new refresh token (it replaces the stored one)")


def oa_outcome(error: ZaloApiError) -> Exception:
    """An Open API error as what to do next (bot/retry.py)."""
    if error.code in UNREACHABLE:
        return RecipientUnreachable(UNREACHABLE[error.code])
    if error.code == RATE_LIMITED:
        return Throttled(float(error.retry_after or 1), error.call)
    if error.code == 0 or error.code >= 500 or error.code in TOKEN_ERRORS:
        return TryLater(str(error))
    return SendFailed(str(error), error.request_id)


class ZaloOAChannel(ZaloChannel):
    name = "zalo_oa"

    def __init__(
        self, conversation: Conversation, settings: ZaloOASettings, signer: LinkSigner,
        policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(conversation, signer, policy)
        if not settings.enabled or settings.webhook_key is None:
            raise ValueError("zalo.oa needs a refresh (or access) token and a webhook key")
        self.settings = settings
        self._key = settings.webhook_key.get_secret_value()
        self.tokens = OATokens(self.services.db, self.services.clock, settings)
        self.capabilities = Capabilities(
            buttons=True, max_buttons=MAX_BUTTONS, edits=False, documents=True, photos=True,
            request_contact=bool(settings.request_info_image_url), max_text=2000,
        )

    async def start(self, web_app: web.Application) -> None:
        web_app.router.add_post(f"/zalo/oa/{self.settings.webhook_path}", self.webhook)

    async def connect(self) -> None:
        try:
            await self.tokens.setup()
        except (OSError, SQLAlchemyError) as error:
            raise TryLater(f"the tokens could not be read: {error}") from error
        log.info("zalo_oa: webhook at /zalo/oa/%s for app %s", self.settings.webhook_path, self.settings.app_id)

    def loops(self) -> list[Awaitable[None]]:
        return [self.keep_tokens_fresh()]

    async def keep_tokens_fresh(self) -> None:
        """Refresh ahead of expiry even when nobody writes, so that the refresh token never lapses either; only
        Zalo's refusal ends it (an error page or a network failure is tried again soon)."""
        while not self.refused.is_set() and not self.stopping.is_set():
            try:
                await self._token()
                delay = TOKEN_CHECK_SECONDS
            except ChannelUnavailable:
                return
            except Exception as error:
                log.warning("zalo_oa: could not refresh the tokens (%s); trying again soon", error)
                delay = TOKEN_RETRY_SECONDS
            await self.pause(delay)

    # -- inbound ------------------------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /zalo/oa/<path>: the signature checked before the body is parsed; the event stored, then 200."""
        raw = await request.read()
        if not self.signed(raw, request.headers.get(SIGNATURE_HEADER, "")):
            return web.Response(status=403, text="forbidden")
        if self.refused.is_set():
            return web.Response(status=503, text="channel stopped")
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(event, dict):
            return web.Response(status=400, text="not an event")
        received = self.received(event)
        if received is not None:
            try:
                await self.receive([received])
            except Exception as error:  # not stored: Zalo must deliver it again
                log.warning("zalo_oa: an event could not be stored (%s); asking Zalo to retry", error)
                return web.Response(status=503, text="try again")
        return web.json_response({"error": 0})

    def signed(self, raw: bytes, header: str) -> bool:
        """``mac=`` sha256(id + raw body + timestamp + key), id = the app id (or, as some senders do, the OA id).
        The timestamp is read from the raw body with a pattern: nothing is parsed before the signature holds."""
        given = header.strip().removeprefix("mac=").strip().lower()
        found = TIMESTAMP.search(raw)
        if not given or found is None:
            return False
        timestamp, key = found.group(1), self._key.encode()
        ids = [i for i in (self.settings.app_id, self.settings.oa_id) if i]
        expected = [hashlib.sha256(i.encode() + raw + timestamp + key).hexdigest() for i in ids]
        return any(hmac.compare_digest(given.encode(), mac.encode()) for mac in expected)

    def received(self, event: dict[str, Any]) -> Received | None:
        """What a user did, as the inbox keeps it; None for events that need no answer."""
        parsed = self.to_incoming(event)
        if parsed is None:
            return None
        incoming, key = parsed
        return Received(key, incoming.chat_id, event)

    async def prepare(self, payload: dict[str, Any]) -> Prepared | None:
        parsed = self.to_incoming(payload)
        if parsed is None:
            return None
        incoming = parsed[0]
        if incoming.document_name or incoming.media == "image":
            incoming = await self.fetched(incoming, file_url_in(payload))
        return Prepared(incoming)

    def to_incoming(self, event: dict[str, Any]) -> tuple[Incoming, str] | None:
        """(Incoming, update key) for what a user did; None for events that need no answer."""
        name = str(event.get("event_name") or "")
        timestamp = str(event.get("timestamp") or "")
        if name in {"follow", "unfollow"}:
            follower = str(_dict(event.get("follower")).get("id") or "")[:100]
            if name == "unfollow":  # messages to them may now fail; those are held and the admins told then
                log.info("zalo_oa: %s unfollowed the OA", follower)
                return None
            if not follower:
                return None
            return self._incoming(follower, text="/start"), f"follow:{follower}:{timestamp}"[:200]
        user = str(_dict(event.get("sender")).get("id") or "")[:100]
        if not user or not name.startswith("user_"):
            return None  # the OA's own messages, and events we do not use
        message = _dict(event.get("message"))
        msg_id = str(message.get("msg_id") or "")
        key = (f"{name}:{msg_id}" if msg_id else f"{name}:{user}:{timestamp}")[:200]
        text = str(message.get("text") or "")
        if name == "user_send_text":
            action = self.action_of(text)
            return (self._incoming(user, action=action) if action else self._incoming(user, text=text)), key
        if name == "user_submit_info":
            phone = str(_dict(event.get("info")).get("phone") or "")[:40]  # shared through Zalo's consent form
            return (self._incoming(user, contact_phone=phone), key) if phone else None
        if name == "user_send_image":  # its caption (if any) is read as text, unless a flow wants the picture
            return self._incoming(user, text=text, media="image"), key
        if name == "user_send_file":
            file_name = str(_file_payload(event).get("name") or "file")
            return self._incoming(user, document_name=file_name[:200]), key
        if name.startswith("user_send_"):
            return self._incoming(user, media=name.removeprefix("user_send_")[:40]), key
        return None

    def _incoming(self, user: str, **fields: Any) -> Incoming:
        return Incoming(channel=self.name, user_id=user, chat_id=user, **fields)

    @staticmethod
    def action_of(text: str) -> str:
        """The action of one of our query buttons (``#p:12``), or "" for text the user typed."""
        if not text.startswith(PAYLOAD_MARK) or len(text.encode()) > MAX_ACTION_BYTES + 1 or " " in text:
            return ""
        action = text[len(PAYLOAD_MARK):]
        return action if is_payload(action) else ""

    # -- outbound -----------------------------------------------------------------------------------------------

    async def send_one(self, chat_id: str, part: Rendered, context: dict[str, Any]) -> None:
        photo, texts = await self.outgoing(part)
        if photo.startswith(("https://", "http://")):
            media = {"template_type": "media", "elements": [{"media_type": "image", "url": photo}]}
            try:
                await self.message(chat_id, {"attachment": {"type": "template", "payload": media}})
            except SendFailed as error:  # a photo Zalo cannot use: the text still goes
                log.info("zalo_oa: photo not sent (%s); sending the text alone", error)
                if isinstance(part.photo, Attachment):  # an image we made: its link still reaches the user
                    texts.append("🖼 " + photo)
        for number, text in enumerate(texts, start=1):
            message: dict[str, Any] = {"text": text}
            buttons = [button for row in part.buttons for button in row]
            if number == len(texts) and buttons:
                message["attachment"] = {"type": "template", "payload": {"buttons": _buttons(buttons)}}
            await self.message(chat_id, message)
        if part.request_contact:
            element = {"title": part.request_contact[:MAX_TITLE], "subtitle": "",
                       "image_url": self.settings.request_info_image_url}
            request = {"template_type": "request_user_info", "elements": [element]}
            await self.message(chat_id, {"attachment": {"type": "template", "payload": request}})

    async def message(self, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """A consultation message (one attempt: the outbox tries again); a token Zalo calls invalid is refreshed
        and the message tried once more; failures sorted as bot/retry.py names them."""
        payload = {"recipient": {"user_id": user_id}, "message": message}
        token = await self._token()
        try:
            return await self.call(MESSAGE_CS, payload, token)
        except ZaloApiError as error:
            if error.code not in TOKEN_ERRORS:
                raise oa_outcome(error) from error
        token = await self._token(stale=token)
        try:
            return await self.call(MESSAGE_CS, payload, token)
        except ZaloApiError as error:
            raise oa_outcome(error) from error

    async def _token(self, stale: str | None = None) -> str:
        self.check_usable()
        try:
            if stale is None:
                return await self.tokens.access_token(self.http)
            return await self.tokens.refresh(self.http, stale=stale)
        except TokenRefused as error:
            self.refuse(REFUSED.format(error=error))
            raise ChannelUnavailable(str(error)) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TryLater(f"access_token: {type(error).__name__}") from None

    async def call(self, path: str, payload: dict[str, Any], token: str) -> dict[str, Any]:
        """One Open API call; its ``data``, or ZaloApiError (errors arrive with HTTP 200 and error != 0; code 0
        for a network failure or an answer that is not the API's)."""
        reference = request_id()
        headers = {"access_token": token, "X-Request-Id": reference}
        try:
            async with self.http.post(self.settings.base_url.rstrip("/") + path, json=payload, headers=headers) as r:
                status = r.status
                try:
                    body = await r.json(content_type=None)
                except (ValueError, RecursionError):
                    body = None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise network_error(path, error, token) from None
        if not isinstance(body, dict):
            raise ZaloApiError(path, status if status >= 500 else 0, f"HTTP {status}: not the API's answer", reference)
        try:
            code = int(body.get("error") or 0)
        except (TypeError, ValueError):
            code = 0
        if code:
            raise ZaloApiError(path, code, str(body.get("message") or ""), reference)
        return _dict(body.get("data"))


def _buttons(buttons: list[Button]) -> list[dict[str, str]]:
    return [{"title": b.label[:MAX_TITLE], "type": BUTTON_TYPE, "payload": PAYLOAD_MARK + b.action} for b in buttons]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _file_payload(event: dict[str, Any]) -> dict[str, Any]:
    """The payload of a user_send_file/image event's first attachment: ``{url, name, size, …}``."""
    attachments = _dict(event.get("message")).get("attachments")
    first = attachments[0] if isinstance(attachments, list) and attachments else {}
    return _dict(_dict(first).get("payload"))


def file_url_in(event: dict[str, Any]) -> str:
    """Where Zalo keeps the file or picture a user sent (fetched before the update is handled)."""
    return str(_file_payload(event).get("url") or "")


# -- the declaration (bot/channels.py) ----------------------------------------------------------------------------


def _build(shared: Shared) -> ZaloOAChannel:
    return ZaloOAChannel(shared.conversation, shared.settings.zalo.oa, link_signer_of(shared))


CHANNEL = ChannelSpec(
    name="zalo_oa",
    section="zalo.oa",
    enabled_by="zalo.oa.refresh_token",
    configured=lambda settings: settings.zalo.oa.enabled,
    admins="zalo",  # [admins] zalo lists the Zalo ids of both Zalo channels
    build=_build,
    broadcast=None,  # Zalo's 7-day window makes a broadcast a paid campaign
)
