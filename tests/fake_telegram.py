"""A loopback Telegram Bot API server for tests: it speaks the HTTP that python-telegram-bot speaks.

It records every call, plays users (their messages, button presses and shared contacts become updates served by
getUpdates or posted to a webhook), and can inject 429 (retry_after), 403 (blocked) and repeated deliveries, and
enforce the platform's limits: so many messages a second overall, a gap between two messages to one chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456:TEST-TOKEN"
BOT = {"id": 123456, "is_bot": True, "first_name": "OCOP", "username": "ocop_test_bot", "can_join_groups": True,
       "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]


class FakeTelegram:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Condition()
        self._message_ids = iter(range(1000, 10**9))
        self._update_ids = iter(range(1, 10**9))
        self.blocked: set[int] = set()  # chats whose user blocked the bot: 403
        self.throttle: dict[str, list[int]] = defaultdict(list)  # method -> retry_after values to answer with
        self.flood_limit_per_second: float | None = None  # answer 429 above this overall rate
        self.throttle_chat: dict[int, list[int]] = defaultdict(list)  # chat -> retry_after values for its next sends
        self.stall_chat: dict[int, list[float]] = defaultdict(list)  # chat -> seconds its next sends hang, then 504
        self._recent: deque[float] = deque()  # when the sends and edits of the last second were accepted
        self.chat_gap_seconds: float | None = None  # answer 429 to a second message to one chat within this time
        self._last_to_chat: dict[int, float] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content) users sent

    # -- server -------------------------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = Call(method, params, files)
        retry = self.throttle.get(method)
        if retry:
            self.calls.append(Call(method + "!429", params))
            return _error(429, "Too Many Requests: retry after", retry_after=retry.pop(0))
        if method.startswith("send") and self.stall_chat.get(call.chat_id or 0):
            self.calls.append(Call(method + "!stall", params))  # a send that never reached the chat
            await asyncio.sleep(self.stall_chat[call.chat_id or 0].pop(0))
            return _error(504, "Gateway Timeout")
        if method.startswith("send") and self.throttle_chat.get(call.chat_id or 0):
            self.calls.append(Call(method + "!429", params))
            return _error(429, "Too Many Requests: retry after", retry_after=self.throttle_chat[call.chat_id or 0].pop(0))
        if self.chat_gap_seconds and method.startswith(("send", "edit")) and call.chat_id is not None:
            now = time.monotonic()
            if now - self._last_to_chat.get(call.chat_id, -1e9) < self.chat_gap_seconds:
                self.calls.append(Call(method + "!429", params))
                return _error(429, "Too Many Requests: retry after 1", retry_after=1)
        if self.flood_limit_per_second and method.startswith(("send", "edit")):
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:  # in the order they came: the oldest first
                self._recent.popleft()
            if len(self._recent) >= self.flood_limit_per_second:
                self.calls.append(Call(method + "!429", params))
                return _error(429, "Too Many Requests: retry after 1", retry_after=1)
            self._recent.append(now)
        if self.chat_gap_seconds and method.startswith(("send", "edit")) and call.chat_id is not None:
            self._last_to_chat[call.chat_id] = time.monotonic()  # accepted: the chat's next must wait
        if call.chat_id in self.blocked and method.startswith("send"):
            self.calls.append(Call(method + "!403", params))
            return _error(403, "Forbidden: bot was blocked by the user")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, f"Not Found: method {method} is not faked")
        self.calls.append(call)
        result = await handler(call)
        if isinstance(result, dict):
            call.result = result
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            params = await request.json()
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[value.filename or key] = value.file.read()
                else:
                    params[key] = value
        for key in ("reply_markup", "commands", "allowed_updates"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params, files

    # -- Bot API methods --------------------------------------------------------------------------------------

    async def _m_getMe(self, call: Call) -> dict[str, Any]:
        return BOT

    async def _m_deleteWebhook(self, call: Call) -> bool:
        return True

    async def _m_setWebhook(self, call: Call) -> bool:
        return True

    async def _m_setMyCommands(self, call: Call) -> bool:
        return True

    async def _m_answerCallbackQuery(self, call: Call) -> bool:
        return True

    async def _m_getUpdates(self, call: Call) -> list[dict[str, Any]]:
        offset = int(call.params.get("offset", 0) or 0)
        timeout = float(call.params.get("timeout", 0) or 0)
        async with self._new_update:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new_update.wait(), min(timeout, 1.0))
            return list(self.updates)

    def _message(self, call: Call, **extra: Any) -> dict[str, Any]:
        chat_id = call.chat_id or 0
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "first_name": "User"},
            "from": BOT,
            **extra,
        }

    async def _m_sendMessage(self, call: Call) -> dict[str, Any]:
        return self._message(call, text=call.text)

    async def _m_sendPhoto(self, call: Call) -> dict[str, Any]:
        return self._message(call, caption=call.text, photo=[{"file_id": "p1", "file_unique_id": "p1", "width": 1, "height": 1}])

    async def _m_sendDocument(self, call: Call) -> dict[str, Any]:
        name = next(iter(call.files), "file")
        return self._message(call, document={"file_id": "d1", "file_unique_id": "d1", "file_name": name})

    async def _m_getFile(self, call: Call) -> dict[str, Any]:
        file_id = str(call.params.get("file_id"))
        if file_id not in self.files:
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400,
                                                      "description": "Bad Request: invalid file_id"}),
                                     content_type="application/json")
        path, content = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(content), "file_path": path}

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.Response(status=401)
        self.calls.append(Call("download", {"path": request.match_info["path"]}))
        for path, content in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=content, content_type="application/octet-stream")
        return web.Response(status=404)

    async def _m_editMessageText(self, call: Call) -> dict[str, Any]:
        message = self._message(call, text=call.text)
        message["message_id"] = int(call.params["message_id"])
        return message

    # -- playing users ------------------------------------------------------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": "vi"}

    def message_update(self, user_id: int, text: str = "", *, chat_id: int | None = None, **extra: Any) -> dict[str, Any]:
        chat = chat_id or user_id
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private" if chat > 0 else "group", "title": "Group"},
            "from": self._user(user_id),
            **extra,
        }
        if text:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(self, user_id: int, data: str, message_id: int = 1) -> dict[str, Any]:
        message = {"message_id": message_id, "date": int(time.time()), "chat": {"id": user_id, "type": "private"},
                   "from": BOT, "text": "…"}
        return {"update_id": next(self._update_ids),
                "callback_query": {"id": str(next(self._update_ids)), "from": self._user(user_id),
                                   "chat_instance": "ci", "message": message, "data": data}}

    def document_update(self, user_id: int, name: str, content: bytes, *, caption: str = "") -> dict[str, Any]:
        """A user sends a file; the bot can fetch it with getFile and the file download route."""
        file_id = f"doc{len(self.files) + 1}"
        self.files[file_id] = (f"documents/{file_id}{name[name.rfind('.'):] if '.' in name else ''}", content)
        document = {"file_id": file_id, "file_unique_id": file_id, "file_name": name, "file_size": len(content)}
        extra: dict[str, Any] = {"document": document}
        if caption:
            extra["caption"] = caption
        return self.message_update(user_id, **extra)

    def photo_update(self, user_id: int, content: bytes, *, caption: str = "") -> dict[str, Any]:
        """A user sends a picture: Telegram offers it in several sizes (here a thumbnail and the full picture)."""
        sizes = []
        for width, data in ((90, content[:64]), (1280, content)):
            file_id = f"photo{len(self.files) + 1}"
            self.files[file_id] = (f"photos/{file_id}.jpg", data)
            sizes.append({"file_id": file_id, "file_unique_id": file_id, "width": width, "height": width * 3 // 4,
                          "file_size": len(data)})
        extra: dict[str, Any] = {"photo": sizes}
        if caption:
            extra["caption"] = caption
        return self.message_update(user_id, **extra)

    def contact_update(self, user_id: int, phone: str) -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": "User", "user_id": user_id}
        return self.message_update(user_id, contact=contact)

    async def push(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (polling)."""
        async with self._new_update:
            self.updates.append(update)
            self._new_update.notify_all()

    # -- reading what users got ---------------------------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[Call]:
        return [c for c in self.calls if c.chat_id == chat_id and c.method.startswith(("send", "edit")) and "!" not in c.method]

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c.method == method)

    async def wait_for(self, chat_id: int, fragment: str, *, after: int = 0, timeout: float = 10.0) -> Call:
        """The first message to ``chat_id`` (from index ``after`` on) containing ``fragment``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.sent_to(chat_id)[after:]:
                if fragment in call.text or fragment in call.files or any(fragment in n for n in call.files):
                    return call
            await asyncio.sleep(0.02)
        got = "\n---\n".join(c.text for c in self.sent_to(chat_id))
        raise AssertionError(f"chat {chat_id} got no message with {fragment!r}; it got:\n{got}")


def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=code)


async def post_webhook(url: str, update: dict[str, Any], secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session, session.post(url, json=update, headers=headers) as response:
        return response.status
