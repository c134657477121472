"""The Zalo Official Account channel (Open API v3, no SDK): signed events in by webhook, consultation messages out
with up to five query buttons, OAuth v4 tokens kept in the database. docs/ZALO.md names the sources of each rule.

Zalo saves a webhook URL only if an unsigned test POST gets 200, and retries any other answer for an hour (then marks
the webhook unreachable): so every POST is answered 200 and checked afterwards; unsigned, forged or unreadable posts
are counted (/healthz), logged and dropped. The one exception is a signed event we could not store: 503, so that
Zalo's retries bring it again. Without ``webhook_key`` (the OA Secret Key is shown once the URL is saved) the channel
runs and ignores events until the key is set.

A query button (``oa.query.hide``) sends its payload back as if the user had typed it, without showing it in the
chat: our payloads are ``#`` + the button's action, recognised on the way in. If Zalo refuses a message with buttons,
its options go at once as numbered text and the OA sends numbered options from then on (remembered in the database).
Messages only reach users who wrote in the last 7 days (error -230): such notifications wait for the user to write
again and the admins are told (handlers.delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.channel import ChannelSpec, Shared
from bot.config import ZaloOASettings
from bot.inbox_worker import Prepared
from bot.links import LinkSigner
from bot.outbox_sender import MADE_AT
from bot.retry import ChannelUnavailable, RecipientUnreachable, RetryPolicy, SendFailed, Throttled, TryLater
from bot.web import HEALTH_REPORTS
from bot.zalo_base import MAX_TEXT, ZaloApiError, ZaloChannel, link_signer_of, network_error, request_id
from bot.zalo_tokens import OATokens, TokenRefused
from handlers.actions import is_payload
from handlers.app import Conversation
from handlers.messages import MAX_ACTION_BYTES, Attachment, Button, Capabilities, Incoming
from handlers.render import Rendered, keyed, split_text
from models.conversation import show_options
from models.inbox import Received
from models.zalo import numbered_options_since, use_numbered_options

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"
TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?([0-9]{1,20})')  # in the raw body, for the signature
MESSAGE_CS = "/v3.0/oa/message/cs"
BUTTON_TYPE = "oa.query.hide"  # sent back like typed text, not shown in the chat (oa.query.show would echo "#p:12")
PAYLOAD_MARK = "#"
MAX_BUTTONS = 5
MAX_TITLE = 100
MAX_SUBTITLE = 500
TOKEN_ERRORS = {-216, -220}  # invalid, expired
NOT_ALLOWED = {  # the OA or the app may not use the API: only a person can fix it
    -221: "the Official Account is not verified",
    -223: "the app is not authorised for this API (grant the OA's permissions to the app in the Zalo console)",
    -224: "the OA's service package does not include this API",
}
UNREACHABLE = {
    -230: "the user has not written in the last 7 days",
    -213: "the user does not follow the OA",
    -227: "the user's account is locked or inactive",
    -232: "the user cannot receive messages from the OA now",
    -244: "the user has blocked messages from the OA",
}
RATE_LIMITED = -32  # 4,000 requests a minute per OA; the count starts again each minute
TOKEN_CHECK_SECONDS = 600.0
TOKEN_RETRY_SECONDS = 60.0
QUIET_SECONDS = 300.0  # a kind of dropped post is logged once in this long (with the count since)
REFUSED = ("Zalo refused to refresh the OA tokens ({error}): re-authorise the app in the Zalo developer console "
           "and set zalo.oa.refresh_token to the new refresh token (it replaces the stored one)")
DROPPED = {
    "unsigned": "a POST without a signature (Zalo checks a new webhook URL this way) was answered 200 and ignored",
    "no_key": "an event was ignored: zalo.oa.webhook_key is not set (the OA Secret Key, shown in the OA's webhook "
              "settings once the URL is saved); set it and restart",
    "forged": "an event whose signature does not match zalo.oa.webhook_key was dropped (if every event is dropped, "
              "the key is wrong: some OAs sign with the app secret)",
    "unreadable": "a signed POST that is not a JSON object was dropped",
}


def oa_outcome(error: ZaloApiError, now: datetime | None = None) -> Exception:
    """An Open API error as what to do next (bot/retry.py)."""
    if error.code in UNREACHABLE:
        return RecipientUnreachable(UNREACHABLE[error.code])
    if error.code in NOT_ALLOWED:
        return ChannelUnavailable(f"Zalo refused the OA's access: {NOT_ALLOWED[error.code]} ({error})")
    if error.code == RATE_LIMITED:
        return Throttled(error.retry_after or next_minute(now), error.call)
    if error.code == 0 or error.code >= 500 or error.code in TOKEN_ERRORS:
        return TryLater(str(error))
    return SendFailed(str(error), error.request_id)


def next_minute(now: datetime | None) -> float:
    """Seconds until Zalo's per-minute request count starts again (plus one, for clocks that differ a little)."""
    seconds = now.second + now.microsecond / 1e6 if now is not None else 0.0
    return 60.0 - seconds + 1.0


class ZaloOAChannel(ZaloChannel):
    name = "zalo_oa"

    def __init__(
        self, conversation: Conversation, settings: ZaloOASettings, signer: LinkSigner,
        policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(conversation, signer, policy)
        if not settings.enabled:
            raise ValueError("zalo.oa needs a refresh (or access) token")
        self.settings = settings
        self._key = settings.webhook_key.get_secret_value() if settings.webhook_key else ""
        self.tokens = OATokens(self.services.db, self.services.clock, settings, metrics=self.services.metrics)
        self.numbered_options = False  # Zalo refused a message with buttons: numbered options instead
        self.dropped: Counter[str] = Counter()  # posts answered 200 and not processed, by why
        self._logged: dict[str, tuple[float, int]] = {}  # why → (when last logged, count then)

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        return Capabilities(
            buttons=not self.numbered_options, max_buttons=MAX_BUTTONS, edits=False, documents=True, photos=True,
            request_contact=bool(self.settings.request_info_image_url), max_text=MAX_TEXT,
        )

    async def start(self, web_app: web.Application) -> None:
        web_app.router.add_post(f"/zalo/oa/{self.settings.webhook_path}", self.webhook)
        web_app[HEALTH_REPORTS][self.name] = self.health

    def health(self) -> dict[str, Any]:
        return {"running": self.connected.is_set() and not self.stopping.is_set(), "webhook_key": bool(self._key),
                "buttons": not self.numbered_options, "events_dropped": dict(self.dropped)}

    async def connect(self) -> None:
        try:
            await self.tokens.setup()
            await self._read_numbered_options()
        except (OSError, SQLAlchemyError) as error:
            raise TryLater(f"the tokens could not be read: {error}") from error
        log.info("zalo_oa: webhook at /zalo/oa/%s for app %s", self.settings.webhook_path, self.settings.app_id)
        if not self._key:
            log.warning("zalo_oa: %s", DROPPED["no_key"].replace("an event was ignored", "events are ignored"))

    def loops(self) -> list[Awaitable[None]]:
        return [self.keep_tokens_fresh()]

    async def keep_tokens_fresh(self) -> None:
        """Refresh ahead of expiry even when nobody writes, so that the refresh token never lapses either; only
        Zalo's refusal ends it (an error page or a network failure is tried again soon). Each round also learns
        whether another replica switched the OA to numbered options."""
        while not self.refused.is_set() and not self.stopping.is_set():
            try:
                await self._token()
                await self._read_numbered_options()
                delay = TOKEN_CHECK_SECONDS
            except ChannelUnavailable:
                return
            except Exception as error:
                log.warning("zalo_oa: could not refresh the tokens (%s); trying again soon", error)
                delay = TOKEN_RETRY_SECONDS
            await self.pause(delay)

    async def _read_numbered_options(self) -> None:
        async with self.services.db.session() as session:
            since = await numbered_options_since(session, self.settings.app_id)
        self.numbered_options = self.numbered_options or since is not None  # once refused, never back by itself

    # -- inbound ------------------------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /zalo/oa/<path>: 200 whatever arrives (checked after), 503 only for a signed event not stored."""
        raw = await request.read()
        why = self.unverified(raw, request.headers.get(SIGNATURE_HEADER, ""))
        event: Any = None
        if not why:
            try:
                event = json.loads(raw)
            except (ValueError, RecursionError):
                event = None
            why = "" if isinstance(event, dict) else "unreadable"
        if why:
            self._drop(why, request.remote)
            return web.json_response({"error": 0})
        received = self.received(event)
        if received is not None:
            try:
                await self.receive([received])
            except Exception as error:  # not stored: Zalo's retries (30 s, 5 min, 15 min…) must bring it again
                log.warning("zalo_oa: an event could not be stored (%s); answered 503 for Zalo to retry", error)
                return web.Response(status=503, text="try again")
        return web.json_response({"error": 0})

    def unverified(self, raw: bytes, header: str) -> str:
        """Why a post cannot be taken as Zalo's ("unsigned", "no_key", "forged"), "" when its signature holds."""
        if not header.strip():
            return "unsigned"
        if not self._key:
            return "no_key"
        return "" if self.signed(raw, header) else "forged"

    def _drop(self, why: str, remote: str | None) -> None:
        """Count a dropped post; log the first of each kind, then at most once in QUIET_SECONDS with the count."""
        self.dropped[why] += 1
        now = time.monotonic()
        last, count_then = self._logged.get(why, (-QUIET_SECONDS, 0))
        if now - last >= QUIET_SECONDS:
            since = self.dropped[why] - count_then
            level = logging.INFO if why == "unsigned" else logging.WARNING
            log.log(level, "zalo_oa: %s (from %s; %d of this kind since the last such line)",
                    DROPPED[why], remote or "?", since)
            self._logged[why] = (now, self.dropped[why])

    def signed(self, raw: bytes, header: str) -> bool:
        """``mac=`` sha256(id + raw body + timestamp + key), id = the app id (or, as some senders do, the OA id).
        The timestamp is read from the raw body with a pattern: nothing is parsed before the signature holds."""
        given = header.strip().removeprefix("mac=").strip().lower()
        found = TIMESTAMP.search(raw)
        if not given or found is None or not self._key:
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
        buttons = [button for row in part.buttons for button in row]
        for number, text in enumerate(texts, start=1):
            if number < len(texts) or not buttons:
                await self.message(chat_id, {"text": text})
            elif not self.numbered_options:
                try:
                    await self.message(chat_id, {"text": text, "attachment": button_template(buttons)})
                    continue
                except SendFailed as error:
                    await self._stop_buttons(error)
                    await self.message(chat_id, {"text": text})
                    await self._send_listing(chat_id, part, context)
            else:  # rendered with buttons before the OA switched to numbered options
                await self.message(chat_id, {"text": text})
                await self._send_listing(chat_id, part, context)
        if part.request_contact:
            subtitle = (part.text or part.request_contact)[:MAX_SUBTITLE]  # required, and not empty
            element = {"title": part.request_contact[:MAX_TITLE], "subtitle": subtitle,
                       "image_url": self.settings.request_info_image_url}
            request = {"template_type": "request_user_info", "elements": [element]}
            await self.message(chat_id, {"attachment": {"type": "template", "payload": request}})

    async def _stop_buttons(self, error: SendFailed) -> None:
        """Zalo refused a message with buttons and takes its text alone: from now on this OA (every replica,
        every restart) sends numbered options."""
        if not self.numbered_options:
            log.warning("zalo_oa: Zalo refused a message with buttons (%s); this OA sends numbered options from now "
                        "on (docs/ZALO.md says how to try buttons again)", error)
        self.numbered_options = True
        async with self.services.db.transaction() as session:
            await use_numbered_options(session, self.settings.app_id, self.services.clock.now())

    async def _send_listing(self, chat_id: str, part: Rendered, context: dict[str, Any]) -> None:
        """The options of a message whose buttons cannot go, as numbered text; typed answers pick them unless the
        chat has moved on since."""
        for text in split_text(part.listing, MAX_TEXT) if part.listing else []:
            await self.message(chat_id, {"text": text})
        flat = keyed(tuple(button for row in part.buttons for button in row))
        options = [[b.label, b.action, b.key] for b in flat]
        made_at = context.get(MADE_AT)
        if isinstance(made_at, datetime):
            async with self.services.db.transaction() as session:
                await show_options(session, self.name, chat_id, options, made_at)

    async def message(self, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """A consultation message (one attempt: the outbox tries again); a token Zalo calls invalid is refreshed
        and the message tried once more; failures sorted as bot/retry.py names them."""
        payload = {"recipient": {"user_id": user_id}, "message": message}
        token = await self._token()
        try:
            return await self.call(MESSAGE_CS, payload, token)
        except ZaloApiError as error:
            if error.code not in TOKEN_ERRORS:
                raise self._outcome(error) from error
        token = await self._token(stale=token)
        try:
            return await self.call(MESSAGE_CS, payload, token)
        except ZaloApiError as error:
            raise self._outcome(error) from error

    def _outcome(self, error: ZaloApiError) -> Exception:
        outcome = oa_outcome(error, self.services.clock.now())
        if isinstance(outcome, ChannelUnavailable):
            self.refuse(str(outcome))
        return outcome

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


def button_template(buttons: list[Button]) -> dict[str, Any]:
    """The attachment of a consultation text with query buttons (``template_type`` given, as the SDKs build it)."""
    shown = [{"title": b.label[:MAX_TITLE], "type": BUTTON_TYPE, "payload": PAYLOAD_MARK + b.action} for b in buttons]
    return {"type": "template", "payload": {"template_type": "button", "buttons": shown}}


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
