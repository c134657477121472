"""Loopback Zalo servers for tests, speaking the HTTP and JSON described in shared/reference/zalo-api.md.

FakeZaloBot is the Bot Platform API (getMe, getUpdates, setWebhook, deleteWebhook, sendMessage, sendPhoto,
sendChatAction); FakeZaloOA is the Official Account Open API (/v3.0/oa/message/cs) with its OAuth server
(/v4/oa/access_token, single-use refresh tokens) and signed event pushes. Both record every call, play users and
inject errors (408, 429, 401, 403; -216, -230, -32, -221…). Nothing leaves 127.0.0.1.

The OA fake follows what docs/ZALO.md gathers from Zalo's SDKs and production integrations: a webhook URL is saved
only when an unsigned check POST gets 200; an event answered with anything but 200 is delivered again on Zalo's
schedule (30 s, 5 min, 15 min, 30 min, 1 h; ``time_scale`` shrinks it for tests), then the webhook is marked
unreachable; messages are checked for the documented shapes (text 1–2000 characters, ``template_type`` on button
templates, at most 5 buttons of known types, a non-empty subtitle on ``request_user_info``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import aiohttp
from aiohttp import web

BOT_TOKEN = "1234567890:zalo-bot-test-secret"
WEBHOOK_SECRET = "zalo-hook-secret"


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive when recorded
    at: float = field(default_factory=time.monotonic)
    error: int = 0  # what the fake answered: 0 = accepted

    @property
    def chat_id(self) -> str:
        recipient = self.body.get("recipient")
        return str(recipient.get("user_id")) if isinstance(recipient, dict) else str(self.body.get("chat_id", ""))

    @property
    def text(self) -> str:
        message = self.body.get("message")
        if isinstance(message, dict):
            return str(message.get("text") or "")
        return str(self.body.get("text") or self.body.get("caption") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """OA query buttons sent with the message."""
        message = self.body.get("message") or {}
        payload = (message.get("attachment") or {}).get("payload") or {}
        return list(payload.get("buttons") or [])

    @property
    def template(self) -> str:
        message = self.body.get("message") or {}
        return str(((message.get("attachment") or {}).get("payload") or {}).get("template_type") or "")


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class LoopbackServer:
    """An aiohttp app on 127.0.0.1 and a free port, recording calls."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def count(self, method: str) -> int:
        return sum(1 for call in self.calls if call.method == method)


# -- Zalo Bot Platform ------------------------------------------------------------------------------------------


class FakeZaloBot(LoopbackServer):
    def __init__(self, token: str = BOT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.webhook_url = ""
        self.webhook_secret = ""
        self.idle_wait = 0.2  # an idle getUpdates answers 408 after this long (Zalo: after `timeout` seconds)
        self.failures: dict[str, list[int]] = defaultdict(list)  # method -> error codes to answer with, in turn
        self.refused_photos: set[str] = set()  # photo URLs answered with 400
        self._ids = count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(r"/bot{token}/{method}", self._handle)

    def fail(self, method: str, *codes: int) -> None:
        self.failures[method].extend(codes)

    @property
    def base_url(self) -> str:
        return self.url

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            body = await request.json()
        except ValueError:
            return _bot_error(400, "Bad Request: body is not JSON")
        call = Call(method, body, request.headers.copy())
        self.calls.append(call)
        handler = getattr(self, f"_{method}", None)
        if request.match_info["token"] != self.token:
            response = _bot_error(401, "Unauthorized")
        elif self.failures[method]:
            code = self.failures[method].pop(0)
            response = _bot_error(code, {408: "Request timeout", 429: "Too Many Requests"}.get(code, "Error"))
        elif handler is None:
            response = _bot_error(404, "Not Found: method")
        else:
            response = await handler(body)
        answer = json.loads(response.text or "{}")
        call.error = 0 if answer.get("ok") else int(answer.get("error_code", 0))
        return response

    async def _getMe(self, body: dict[str, Any]) -> web.Response:
        return _ok({"id": "b0b0b0b0", "account_name": "ocop_test_bot", "account_type": "BASIC", "can_join_groups": False})

    async def _getUpdates(self, body: dict[str, Any]) -> web.Response:
        if self.webhook_url:
            return _bot_error(400, "Bad Request: a webhook is set")
        try:
            update = await asyncio.wait_for(self.updates.get(), timeout=min(float(body.get("timeout", 30)), self.idle_wait))
        except TimeoutError:
            return _bot_error(408, "Request timeout")
        return _ok(update)

    async def _setWebhook(self, body: dict[str, Any]) -> web.Response:
        secret = str(body.get("secret_token", ""))
        if not 8 <= len(secret) <= 256 or not str(body.get("url", "")).startswith(("https://", "http://")):
            return _bot_error(400, "Bad Request: url or secret_token")
        self.webhook_url, self.webhook_secret = str(body["url"]), secret
        return _ok(True)

    async def _deleteWebhook(self, body: dict[str, Any]) -> web.Response:
        self.webhook_url = self.webhook_secret = ""
        return _ok(True)

    async def _getWebhookInfo(self, body: dict[str, Any]) -> web.Response:
        return _ok({"url": self.webhook_url})

    async def _sendMessage(self, body: dict[str, Any]) -> web.Response:
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 2000 or not body.get("chat_id"):
            return _bot_error(400, "Bad Request: text must be 1-2000 characters")
        return _ok({"message_id": f"m{next(self._ids)}", "date": int(time.time() * 1000)})

    async def _sendPhoto(self, body: dict[str, Any]) -> web.Response:
        caption = body.get("caption")
        if not str(body.get("photo", "")).startswith("http") or (
                caption is not None and not (isinstance(caption, str) and 1 <= len(caption) <= 2000)):
            return _bot_error(400, "Bad Request: photo, or a caption that is not 1-2000 characters")
        if body["photo"] in self.refused_photos:
            return _bot_error(400, "Bad Request: cannot fetch the photo")
        return _ok({"message_id": f"m{next(self._ids)}", "date": int(time.time() * 1000)})

    async def _sendChatAction(self, body: dict[str, Any]) -> web.Response:
        return _ok(True)

    # -- playing users --

    def update(
        self, user_id: str, text: str = "", *, event: str = "text", name: str = "", message_id: str = "", **extra: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "from": {"id": user_id, "display_name": name or user_id, "is_bot": False},
            "chat": {"id": user_id, "chat_type": "PRIVATE"},
            "message_id": message_id or f"{next(self._ids):020x}",
            "date": int(time.time() * 1000),
            **extra,
        }
        if text:
            message["text"] = text
        return {"event_name": f"message.{event}.received", "message": message}

    async def push(self, update: dict[str, Any], *, wrapped: bool = False, secret: str | None = None) -> int:
        """Deliver an update as Zalo would: to the webhook when one is set, else to the next getUpdates."""
        if not self.webhook_url:
            await self.updates.put(update)
            return 200
        body = {"ok": True, "result": update} if wrapped else update
        headers = {"X-Bot-Api-Secret-Token": self.webhook_secret if secret is None else secret}
        async with aiohttp.ClientSession() as session, session.post(self.webhook_url, json=body, headers=headers) as r:
            return r.status

    def sent(self, chat_id: str) -> list[Call]:
        """The messages and photos to a chat that the fake accepted."""
        return [c for c in self.calls if c.method in {"sendMessage", "sendPhoto"} and c.chat_id == chat_id
                and not c.error]

    def texts(self, chat_id: str) -> list[str]:
        return [call.text for call in self.sent(chat_id)]


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _bot_error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description})  # HTTP 200, like Zalo


# -- Zalo Official Account ---------------------------------------------------------------------------------------

APP_ID = "1234567890123456789"  # ids exceed 2**53: always strings
OA_ID = "9876543210987654321"
APP_SECRET = "app-secret-for-tests"
WEBHOOK_KEY = "oa-secret-key-for-tests"
FIRST_REFRESH = "refresh-0"


class FakeZaloOA(LoopbackServer):
    """The OA message API and the OAuth server in one; refresh tokens are single-use and rotate."""

    def __init__(self) -> None:
        super().__init__()
        self.refresh_token = FIRST_REFRESH
        self.access_tokens: set[str] = set()
        self.refreshes = 0
        self.refresh_delay = 0.0
        self.expires_in: Any = "90000"  # Zalo sometimes sends a string
        self.outside_window: set[str] = set()  # users who have not written in 7 days: -230
        self.failures: list[int] = []  # error codes for the next message/cs calls, in turn
        self.refused_photos: set[str] = set()  # image URLs Zalo cannot fetch: -201
        self.token_length = 0  # 0: short tokens ("access-1"); else tokens of this length
        self.refuses_buttons = False  # play an OA whose messages with buttons Zalo refuses (-201)
        self.files: dict[str, bytes] = {}  # what users uploaded, served as Zalo's file storage does
        self.token_answers: list[tuple[int, str]] = []  # (HTTP status, body) for the next refreshes, in turn
        self.webhook_url = ""  # saved by register_webhook once its check POST got 200
        self.webhook_unreachable = False  # an event went unanswered through every retry
        self.time_scale = 1.0  # Zalo's retry delays are multiplied by this
        self.deliveries: list[tuple[str, int]] = []  # (event key, HTTP status) of every POST to the webhook
        self._ids = count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        app.router.add_post("/v4/oa/access_token", self._token)
        app.router.add_get("/cdn/{key}/{name}", self._file)

    async def _file(self, request: web.Request) -> web.Response:
        self.calls.append(Call("cdn", {"key": request.match_info["key"]}, request.headers.copy()))
        data = self.files.get(request.match_info["key"])
        return web.Response(status=404) if data is None else web.Response(body=data)

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.calls.append(Call("access_token", {k: str(v) for k, v in form.items()}, request.headers.copy()))
        await asyncio.sleep(self.refresh_delay)
        if self.token_answers:
            status, text = self.token_answers.pop(0)
            return web.Response(status=status, text=text, content_type="text/html" if "<" in text else "application/json")
        if request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14002, "error_name": "Invalid app", "error_description": "app"})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token",
                                      "error_description": "Refresh token is invalid or used"})
        self.refreshes += 1
        access, self.refresh_token = self._token_text("access"), self._token_text("refresh")
        self.access_tokens = {access}  # the previous access token stops working
        return web.json_response({"access_token": access, "refresh_token": self.refresh_token,
                                  "expires_in": self.expires_in})

    async def _message(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = Call("message/cs", body, request.headers.copy())
        self.calls.append(call)
        message = body.get("message") or {}
        if request.headers.get("access_token") not in self.access_tokens:
            call.error = -216
        elif self.failures:
            call.error = self.failures.pop(0)
        elif call.chat_id in self.outside_window:
            call.error = -230
        elif not self._well_formed(message) or self._refused_photo(message):
            call.error = -201
        if call.error:
            return _oa_error(call.error, OA_ERRORS.get(call.error, "error"))
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": f"{next(self._ids):032x}", "user_id": call.chat_id}})

    def _token_text(self, kind: str) -> str:
        """``access-3``, or as long as ``token_length`` (real tokens are a few hundred characters)."""
        short = f"{kind}-{self.refreshes}"
        padding = hashlib.sha256(short.encode()).hexdigest() * 20
        return f"{short}-{padding}"[: self.token_length] if self.token_length else short

    def _well_formed(self, message: dict[str, Any]) -> bool:
        """The shapes docs/ZALO.md lists; a message with buttons also fails when ``refuses_buttons`` is set."""
        text, payload = message.get("text"), (message.get("attachment") or {}).get("payload") or {}
        if text is not None and not (isinstance(text, str) and 1 <= len(text) <= 2000):
            return False
        if text is None and not payload:
            return False
        buttons = payload.get("buttons")
        if buttons is not None:
            kinds = {"oa.query.show", "oa.query.hide", "oa.open.url", "oa.open.phone", "oa.open.sms"}
            if self.refuses_buttons or payload.get("template_type") != "button" or not 1 <= len(buttons) <= 5:
                return False
            if any(b.get("type") not in kinds or not 1 <= len(str(b.get("title", ""))) <= 100
                   or len(str(b.get("payload", ""))) > 1000 for b in buttons):
                return False
        if payload.get("template_type") == "request_user_info":
            elements = payload.get("elements") or []
            if len(elements) != 1 or not elements[0].get("title") or not elements[0].get("subtitle"):
                return False
        return True

    def _refused_photo(self, message: dict[str, Any]) -> bool:
        elements = ((message.get("attachment") or {}).get("payload") or {}).get("elements") or []
        return any(element.get("url") in self.refused_photos for element in elements)

    def expire_access(self) -> None:
        self.access_tokens.clear()

    # -- playing users --

    def event(self, name: str, user_id: str, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "app_id": APP_ID, "user_id_by_app": f"app-{user_id}", "event_name": name,
            "timestamp": str(int(time.time() * 1000)),
        }
        if name in {"follow", "unfollow"}:
            event.update({"oa_id": OA_ID, "follower": {"id": user_id}, "source": "testing"})
        else:
            event.update({"sender": {"id": user_id}, "recipient": {"id": OA_ID}})
        event.update(fields)
        return event

    def text(self, user_id: str, text: str, msg_id: str = "") -> dict[str, Any]:
        return self.event("user_send_text", user_id, message={"text": text, "msg_id": msg_id or self.msg_id()})

    def file(self, user_id: str, name: str, data: bytes | None, kind: str = "file") -> dict[str, Any]:
        """A user_send_file (or _image) event; the file is kept in the fake's storage (``None``: its link is dead)."""
        key = self.msg_id()
        if data is not None:
            self.files[key] = data
        payload = {"url": f"{self.url}/cdn/{key}/{name}", "name": name, "size": str(len(data or b"")), "type": "xlsx"}
        message = {"attachments": [{"type": kind, "payload": payload}], "msg_id": key}
        return self.event(f"user_send_{kind}", user_id, message=message)

    def fetched(self) -> int:
        """How many times the bot fetched an uploaded file from the fake's storage."""
        return self.count("cdn")

    def msg_id(self) -> str:
        return f"{next(self._ids):032x}"

    @staticmethod
    def signature(raw: bytes, timestamp: str, app_id: str = APP_ID, key: str = WEBHOOK_KEY) -> str:
        return "mac=" + hashlib.sha256(app_id.encode() + raw + timestamp.encode() + key.encode()).hexdigest()

    async def register_webhook(self, url: str) -> bool:
        """Save a webhook URL as the OA console does: an unsigned check POST, saved only if it gets 200."""
        body = json.dumps({"event_name": "webhook_check", "timestamp": str(int(time.time() * 1000))}).encode()
        async with aiohttp.ClientSession() as session, session.post(
            url, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            if response.status == 200:
                self.webhook_url = url
            return response.status == 200

    async def push(self, url: str, event: dict[str, Any], *, signature: str | None = None) -> int:
        """POST an event to our webhook once, signed as Zalo signs it unless ``signature`` is given."""
        raw = json.dumps(event, ensure_ascii=False).encode()
        status = await self.post(url, raw, str(event.get("timestamp", "")), signature=signature)
        self.deliveries.append((str((event.get("message") or {}).get("msg_id") or event.get("event_name")), status))
        return status

    async def post(self, url: str, raw: bytes, timestamp: str, *, signature: str | None = None) -> int:
        """POST these bytes, signed with ``timestamp`` unless ``signature`` is given."""
        mac = self.signature(raw, timestamp) if signature is None else signature
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature": mac}
        async with aiohttp.ClientSession() as session, session.post(url, data=raw, headers=headers) as response:
            return response.status

    async def deliver(self, event: dict[str, Any]) -> int:
        """Deliver an event to the saved webhook as Zalo does: anything but 200 is tried again on Zalo's schedule;
        after the last try the webhook is marked unreachable. The last status."""
        assert self.webhook_url, "no webhook saved (register_webhook)"
        status = await self.push(self.webhook_url, event)
        for delay in ZALO_RETRIES:
            if status == 200:
                return status
            await asyncio.sleep(delay * self.time_scale)
            status = await self.push(self.webhook_url, event)
        self.webhook_unreachable = status != 200
        return status

    def sent(self, user_id: str) -> list[Call]:
        """The messages to a user that the fake accepted."""
        return [c for c in self.calls if c.method == "message/cs" and c.chat_id == user_id and not c.error]

    def texts(self, user_id: str) -> list[str]:
        return [call.text for call in self.sent(user_id) if call.text]


ZALO_RETRIES = (30.0, 300.0, 900.0, 1800.0, 3600.0)  # seconds after a non-200 answer, then "unreachable"
OA_ERRORS = {
    -32: "Exceed rate limit", -221: "Official Account is not verified", -223: "Application has no permission",
    -224: "Official Account's package does not support this API", -227: "User is banned or inactive",
    -232: "User cannot receive this message", -244: "User has blocked messages from the OA", -201: "Parameters are invalid", -213: "User has not followed the OA",
    -216: "Access token is invalid", -220: "Access token has expired",
    -230: "User has not interacted with the OA in the last 7 days",
}


def _oa_error(code: int, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message})  # HTTP 200, like Zalo
