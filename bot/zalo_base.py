"""What the two Zalo channels share: files (memos, exports, charts) sent as signed download links, files users send
fetched before their update is handled, and API errors."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import datetime

import aiohttp

from bot.channel import ChannelRuntime, Shared
from bot.links import PHOTO_KEPT, LinkSigner
from bot.retry import ChannelUnavailable, RecipientBlocked, RetryPolicy, SendFailed, Throttled, TryLater
from handlers.app import Conversation
from handlers.messages import Attachment, DocumentRef, Incoming
from handlers.render import Rendered
from models.stored_files import MAX_IMAGE_BYTES, StoredFile, store
from models.tabular import MAX_FILE_BYTES

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # both Zalo APIs: text and captions
BOT_TOKEN_REFUSED = "Zalo refused the bot token (401): check zalo.bot.token (a reset token stops working at once)"


class ZaloApiError(Exception):
    """Zalo answered a call with an error (both APIs answer errors with HTTP 200)."""

    def __init__(self, call: str, code: int, description: str, request_id: str, retry_after: float | None = None):
        super().__init__(f"{call}: error {code} {description}".strip())
        self.call, self.code, self.description = call, code, description
        self.request_id, self.retry_after = request_id, retry_after

    def __str__(self) -> str:
        return f"{super().__str__()} (request {self.request_id})"


def bot_api_outcome(error: ZaloApiError) -> Exception:
    """A Zalo Bot Platform error as what to do next (bot/retry.py)."""
    if error.code == 429:
        return Throttled(float(error.retry_after or 1), error.call)
    if error.code == 403:
        return RecipientBlocked(str(error))
    if error.code == 401:
        return ChannelUnavailable(BOT_TOKEN_REFUSED)
    if error.code in {0, 408} or error.code >= 500:
        return TryLater(str(error))
    return SendFailed(str(error), error.request_id)


def photo_payload(chat_id: str, photo: str, caption: str) -> dict[str, str]:
    """sendPhoto's body: a caption only when there is one (when given, it must be 1–2000 characters)."""
    payload = {"chat_id": chat_id, "photo": photo}
    return {**payload, "caption": caption[:MAX_TEXT]} if caption else payload


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


class ZaloChannel(ChannelRuntime):
    """What both Zalo channels do alike: an HTTP client, files as signed links, files users send fetched."""

    def __init__(self, conversation: Conversation, signer: LinkSigner, policy: RetryPolicy | None = None) -> None:
        super().__init__(conversation)
        self.signer = signer
        self.policy = policy or RetryPolicy(first=1.0, maximum=60.0)
        self._http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, sock_connect=10))
        return self._http

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def typing(self, chat_id: str) -> None:
        """Show that the bot is working, where the platform can."""

    async def fetched(self, incoming: Incoming, file_url: str) -> Incoming:
        """The update with the file a user sent (a catalogue list), or the picture when the chat is at a step that
        takes one; fetched from the platform's storage before the update is handled."""
        if not file_url or incoming.is_group:
            return incoming
        if incoming.document_name:
            return replace(incoming, document_data=await self.fetch_file(file_url, MAX_FILE_BYTES))
        if incoming.media == "image" and await self.conversation.wants_image(incoming):
            return replace(incoming, image=await self.fetch_file(file_url, MAX_IMAGE_BYTES))
        return incoming

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
        stored = await self._keep(file, now + self.signer.ttl)
        return self.signer.file_url(stored, now)

    async def photo_link(self, picture: Attachment) -> str:
        """A lasting link to a picture sent as a photo (Zalo may fetch it again when an old chat is opened)."""
        return self.signer.photo_url(await self._keep(picture, self.services.clock.now() + PHOTO_KEPT))

    async def _keep(self, file: Attachment, until: datetime) -> StoredFile:
        """The file kept in the database until at least ``until`` (the outbox's copy when it has one)."""
        async with self.services.db.transaction() as session:
            kept = await session.get(StoredFile, file.kept) if file.kept is not None else None
            if kept is None:
                return await store(session, file.filename, file.mime, file.data, self.services.clock.now(),
                                   until - self.services.clock.now())
            kept.expires_at = max(kept.expires_at, until)
            return kept

    async def outgoing(self, part: Rendered) -> tuple[str, list[str]]:
        """The photo URL ("" for none) and the texts to send for one message. Zalo sends no files: a document
        becomes a link under the text, an image we made is sent by its link."""
        photo = await self.photo_link(part.photo) if isinstance(part.photo, Attachment) else part.photo
        link = "📄 " + await self.link_to(part.document) if part.document is not None else ""
        return photo, with_link(part.text, link)
