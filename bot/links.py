"""Signed links for channels that cannot send files: expiring download links (memos, exports), and lasting links to
the pictures sent as photos (charts, broadcast pictures), which a platform may fetch again whenever an old chat is
opened."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from bot.config import WebSettings
from models import parse
from models.stored_files import StoredFile

PHOTO_KEPT = timedelta(days=365)  # a picture sent as a photo stays reachable this long (chats keep old photos)


class LinkSigner:
    def __init__(self, secret: str, public_url: str, ttl: timedelta) -> None:
        if not secret:
            raise ValueError("web.secret is required to sign download links")
        self._key = secret.encode()
        self._base = public_url.rstrip("/")
        self.ttl = ttl

    def _signature(self, kind: str, item: int, expires: int) -> str:
        message = f"{kind}:{item}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def url(self, kind: str, item: int, now: datetime, extension: str = "docx", until: datetime | None = None) -> str:
        """``{public_url}/{kind}s/{item}.{extension}?exp=…&sig=…``, valid for the configured time or ``until``; the
        signature covers kind, item and expiry."""
        expires = int((until or now + self.ttl).timestamp())
        signature = self._signature(kind, item, expires)
        return f"{self._base}/{kind}s/{item}.{extension}?exp={expires}&sig={signature}"

    def file_url(self, stored: StoredFile, now: datetime) -> str:
        """A link to a kept file, valid for as long as the file is kept (the download checks that it names it)."""
        assert stored.id is not None
        return self.url("file", stored.id, now, stored.extension, until=stored.expires_at)

    def photo_url(self, stored: StoredFile) -> str:
        """``{public_url}/photos/{id}.{extension}?sig=…``: no expiry in the link; it works as long as the picture is
        kept (``PHOTO_KEPT``)."""
        assert stored.id is not None
        return f"{self._base}/photos/{stored.id}.{stored.extension}?sig={self._signature('photo', stored.id, 0)}"

    def valid_photo(self, item: int, signature: str) -> bool:
        return hmac.compare_digest(self._signature("photo", item, 0).encode(), signature.encode(errors="replace"))

    def valid(self, kind: str, item: int, expires: str, signature: str, now: datetime) -> bool:
        """True for an untampered link that has not expired (constant-time comparison). ``expires`` and
        ``signature`` are as the query string gave them: anything but what ``url`` wrote is refused."""
        until = self.expiry(expires)
        if until is None or until < now.timestamp():
            return False
        return hmac.compare_digest(self._signature(kind, item, until).encode(), signature.encode(errors="replace"))

    @staticmethod
    def expiry(expires: str) -> int | None:
        """The expiry a link names (seconds since 1970, as ``url`` writes it); None for anything else."""
        return parse.canonical(expires, high=parse.MAX_TIMESTAMP)


def link_signer(web: WebSettings) -> LinkSigner | None:
    """The signer configured in [web], or None when no secret is set."""
    if web.secret is None:
        return None
    return LinkSigner(web.secret.get_secret_value(), web.public_url, timedelta(hours=web.link_ttl_hours))
