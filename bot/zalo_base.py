"""What the two Zalo channels share: one chat's updates handled in order in the background, files (memos, exports,
charts) sent as signed download links, files users send fetched, retry delays, API errors, an apology when a reply
cannot be sent, and stopping for good when Zalo refuses the channel's credentials."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

import aiohttp

from bot.channel import ChannelRuntime, Shared
from bot.links import LinkSigner
from handlers.app import Conversation
from handlers.delivery import ChannelUnavailable, RecipientBlocked, RecipientUnreachable
from handlers.i18n import translator
from handlers.messages import Attachment, DocumentRef, Incoming
from handlers.render import Rendered
from models.people import language_of_identity
from models.stored_files import MAX_IMAGE_BYTES, store
from models.tabular import MAX_FILE_BYTES

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # both Zalo APIs: text and captions
DRAIN_SECONDS = 5.0  # at shutdown, how long updates already acknowledged may still run


@dataclass(frozen=True)
class Backoff:
    """Waits between retries: first, doubled each time, capped."""

    first: float = 1.0
    maximum: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.first * 2**attempt, self.maximum)


class ZaloApiError(Exception):
    """Zalo answered a call with an error (both APIs answer errors with HTTP 200)."""

    def __init__(self, call: str, code: int, description: str, request_id: str, retry_after: float | None = None):
        super().__init__(f"{call}: error {code} {description}".strip())
        self.call, self.code, self.description = call, code, description
        self.request_id, self.retry_after = request_id, retry_after

    def __str__(self) -> str:
        return f"{super().__str__()} (request {self.request_id})"


def request_id() -> str:
    """Our id for one API call, sent as X-Request-Id and logged with any error."""
    return uuid.uuid4().hex[:12]


def network_error(call: str, error: BaseException, secret: str) -> ZaloApiError:
    """A transport failure as an API error with code 0; the secret never appears in its text."""
    text = f"{type(error).__name__}: {error}".replace(secret, "***") if secret else f"{type(error).__name__}: {error}"
    return ZaloApiError(call, 0, text, request_id())


def with_link(text: str, link: str) -> list[str]:
    """The texts to send for a message and its link (if any): together when they fit in one Zalo message."""
    if not link:
        return [text] if text else []
    together = f"{text}\n\n{link}" if text else link
    return [together] if len(together) <= MAX_TEXT else [text, link]


def link_signer_of(shared: Shared) -> LinkSigner:
    """The signer of the download links a Zalo channel sends instead of files."""
    if shared.signer is None:
        raise ValueError("the Zalo channels send memos as download links: set web.secret and web.public_url")
    return shared.signer


class ChatQueue:
    """Work done in the background after an update was acknowledged: one chat's items in arrival order,
    different chats concurrently."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.completed = 0  # items finished (tests and health checks wait on it)

    def submit(self, chat_id: str, work: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.create_task(self._run(self._tails.get(chat_id), work))
        self._tails[chat_id] = task
        self._tasks.add(task)
        task.add_done_callback(partial(self._done, chat_id))

    async def _run(self, previous: asyncio.Task[None] | None, work: Callable[[], Awaitable[object]]) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await work()
        except Exception:
            log.exception("handling an update failed")

    def _done(self, chat_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(chat_id) is task:
            del self._tails[chat_id]
        self.completed += 1

    async def close(self, grace: float = DRAIN_SECONDS) -> None:
        """Let running work finish for ``grace`` seconds, then cancel the rest."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class ZaloChannel(ChannelRuntime):
    """A Zalo channel's life: start, then ``run`` (its loops and the notification pump) until stopped or until
    Zalo refuses its credentials, which stops it for good with a log line saying what to fix."""

    def __init__(self, conversation: Conversation, signer: LinkSigner, backoff: Backoff) -> None:
        super().__init__(conversation)
        self.signer = signer
        self.backoff = backoff
        self.queue = ChatQueue()
        self.refused = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, sock_connect=10))
        return self._http

    async def stop(self) -> None:
        await self.queue.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    def refuse(self, what: str) -> None:
        """Zalo refused our credentials: nothing will work until a person fixes the configuration; the channel's
        loops stop (``run`` ends)."""
        if not self.refused.is_set():
            log.error("%s: %s; the channel is stopped", self.name, what)
            self.refused.set()
            self.stopping.set()

    def check_usable(self) -> None:
        if self.refused.is_set():
            raise ChannelUnavailable(f"{self.name} is stopped: its credentials were refused")

    async def typing(self, chat_id: str) -> None:
        """Show that the bot is working, where the platform can."""

    def submit(self, incoming: Incoming, update_key: str, file_url: str = "") -> None:
        """Handle an acknowledged update in the background, after the chat's earlier ones; a file the user sent
        (``file_url``) is fetched first, a picture only when the chat is at a step that takes one."""
        if file_url and not incoming.is_group:
            self.queue.submit(incoming.chat_id, partial(self._fetch_then_process, incoming, update_key, file_url))
        else:
            self.queue.submit(incoming.chat_id, partial(self.process, incoming, update_key))

    async def _fetch_then_process(self, incoming: Incoming, update_key: str, url: str) -> None:
        if incoming.document_name:
            incoming = replace(incoming, document_data=await self.fetch_file(url, MAX_FILE_BYTES))
        elif incoming.media == "image" and await self.conversation.wants_image(incoming):
            incoming = replace(incoming, image=await self.fetch_file(url, MAX_IMAGE_BYTES))
        await self.process(incoming, update_key)

    async def fetch_file(self, url: str, limit: int) -> bytes:
        """A file a user sent, from the platform's storage: up to ``limit`` bytes, b"" when larger or unreachable
        (the handler then says what went wrong)."""
        if not url.startswith(("https://", "http://")):
            return b""
        try:
            async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=60)) as response:
                if response.status != 200 or (response.content_length or 0) > limit:
                    log.warning("%s: could not fetch a file the user sent (HTTP %s)", self.name, response.status)
                    return b""
                data = await response.content.read(limit + 1)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("%s: could not fetch a file the user sent: %s", self.name, type(error).__name__)
            return b""
        return data if len(data) <= limit else b""

    async def link_to(self, file: DocumentRef | Attachment) -> str:
        """A signed, expiring link to a file: a memo is made when fetched; a file made for this reply is kept in
        the database for as long as its link lives."""
        now = self.services.clock.now()
        if isinstance(file, DocumentRef):
            return self.signer.url(file.kind, file.id, now)
        async with self.services.db.transaction() as session:
            stored = await store(session, file.filename, file.mime, file.data, now, self.signer.ttl)
        return self.signer.file_url(stored, now)

    async def outgoing(self, part: Rendered) -> tuple[str, list[str]]:
        """The photo URL ("" for none) and the texts to send for one message. Zalo sends no files: a document
        becomes a link under the text, an image we made is sent by its link."""
        photo = await self.link_to(part.photo) if isinstance(part.photo, Attachment) else part.photo
        link = "📄 " + await self.link_to(part.document) if part.document is not None else ""
        return photo, with_link(part.text, link)

    async def process(self, incoming: Incoming, update_key: str = "") -> list[Rendered] | None:
        typing = asyncio.create_task(self.typing(incoming.chat_id))
        try:
            rendered = await self.conversation.handle(incoming, self.capabilities, update_key=update_key)
            if rendered:
                await self._reply(incoming, rendered)
            return rendered
        finally:
            await typing

    async def _reply(self, incoming: Incoming, rendered: list[Rendered]) -> None:
        try:
            await self.send(incoming.chat_id, rendered)
        except RecipientBlocked:
            await self.mark_blocked(incoming.user_id)
        except (ChannelUnavailable, RecipientUnreachable) as error:
            log.warning("%s: no reply to %s: %s", self.name, incoming.chat_id, error)
        except Exception as error:
            reference = error.request_id if isinstance(error, ZaloApiError) else request_id()
            log.warning("%s: the reply to %s was not sent: %s", self.name, incoming.chat_id, error)
            await self._apologise(incoming, reference)

    async def _apologise(self, incoming: Incoming, reference: str) -> None:
        async with self.services.db.session() as session:
            language = await language_of_identity(session, self.name, incoming.user_id)
        text = translator(language or self.services.default_language)("error.unexpected", id=reference)
        try:
            await self.send(incoming.chat_id, [Rendered(text)])
        except Exception as error:
            log.warning("%s: the apology to %s was not sent either: %s", self.name, incoming.chat_id, error)
