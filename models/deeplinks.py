"""Deep links printed at fairs and forwarded between buyers: what a link points at, signed so it cannot be made up.

A payload names one target and, for codes printed at an event, where it was scanned:

    p12                a product          m5   a producer (all its products)
    e3                 an event           c5   the claim step of producer 5          l   /link
    p12-e3-ba12        product 12, scanned at event 3, booth "A12" (booth labels are case-insensitive)

followed by ``_`` and six characters of an HMAC-SHA256 over the rest (30 bits, base32, lower case): e.g.
``p12-e3-ba12_k4mxq2``. The whole payload is lower case, at most 64 characters of ``a-z 0-9 _ -`` (Telegram's
``start`` parameter), and short enough to type where a platform cannot carry it in the link (Zalo). It holds no
personal data: ids of public records and a booth label. A payload that does not read, or whose signature does not
match, is None — never an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from models import parse

SIGNATURE_CHARS = 6
MAX_PAYLOAD = 64
MAX_BOOTH = 8
BOOTH = re.compile(r"[A-Za-z0-9]{1,8}")
_PAYLOAD = re.compile(
    r"(?P<kind>[pmecl])(?P<item>[0-9]{0,10})(?:-e(?P<event>[0-9]{1,10})(?:-b(?P<booth>[a-z0-9]{1,8}))?)?"
    r"_(?P<sig>[a-z2-7]{6})"
)
# How people type a code where the link cannot carry it: the code alone, or after "/start", "start" or "#".
_TYPED = re.compile(r"(?:/?start\s+|#\s*)?([A-Za-z0-9_\-]{8,64})", re.IGNORECASE)


class Target(StrEnum):
    PRODUCT = "p"
    PRODUCER = "m"
    EVENT = "e"
    CLAIM = "c"  # a producer's claim of its catalogue record (the code itself is typed, never in the link)
    LINK = "l"  # /link: join this account with the same person's on another channel


WITH_ID = frozenset({Target.PRODUCT, Target.PRODUCER, Target.EVENT, Target.CLAIM})
SCANNABLE = frozenset({Target.PRODUCT, Target.PRODUCER})  # targets a booth's code may name with its event


@dataclass(frozen=True)
class DeepLink:
    target: Target
    item: int = 0  # the record's id (none for LINK)
    event: int | None = None  # the event where the code was printed
    booth: str = ""  # the booth or table label at that event, lower case

    def __post_init__(self) -> None:
        if (self.target in WITH_ID) != (self.item > 0):
            raise ValueError(f"{self.target.name} link with item {self.item}")
        if self.event is not None and self.target not in SCANNABLE:
            raise ValueError("only product and producer links carry an event")
        if self.booth and (self.event is None or not BOOTH.fullmatch(self.booth)):
            raise ValueError("a booth label is 1-8 letters or digits, and needs its event")
        object.__setattr__(self, "booth", self.booth.lower())

    @property
    def body(self) -> str:
        text = f"{self.target.value}{self.item or ''}"
        if self.event is not None:
            text += f"-e{self.event}"
        if self.booth:
            text += f"-b{self.booth}"
        return text


class LinkKey:
    """Signs and reads payloads with one secret ([links] secret, or [web] secret)."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a secret is needed to sign deep links")
        self._key = hashlib.sha256(b"ocop-deeplink:" + secret.encode()).digest()  # not the download links' key

    def _signature(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.b32encode(digest).decode()[:SIGNATURE_CHARS].lower()

    def payload(self, link: DeepLink) -> str:
        return f"{link.body}_{self._signature(link.body)}"

    def read(self, payload: str) -> DeepLink | None:
        """The link ``payload`` names when we signed it; None for anything else (unknown, cut, tampered)."""
        if not payload or len(payload) > MAX_PAYLOAD:
            return None
        match = _PAYLOAD.fullmatch(payload.strip().lower())
        if match is None:
            return None
        body = match.group(0).rsplit("_", 1)[0]
        if not hmac.compare_digest(self._signature(body), match.group("sig")):
            return None
        target = Target(match.group("kind"))
        item = parse.canonical(match.group("item"), high=parse.MAX_ID) if match.group("item") else 0
        event = parse.canonical(match.group("event"), high=parse.MAX_ID) if match.group("event") else None
        if item is None or (match.group("event") and not event):
            return None
        try:
            return DeepLink(target, item, event, match.group("booth") or "")
        except ValueError:
            return None

    def typed(self, text: str) -> DeepLink | None:
        """The link a message names when its whole text is one of our codes (typed from a poster on Zalo)."""
        match = _TYPED.fullmatch(text.strip()) if len(text) <= 80 else None
        return self.read(match.group(1)) if match else None


@dataclass
class LinkBook:
    """Where each channel's links lead: set from [links] and, for Telegram, from getMe when the channel starts."""

    key: LinkKey | None = None
    telegram_username: str = ""  # the bot's @username, without the @
    zalo_oa_url: str = ""  # e.g. https://zalo.me/<oa_id>: opens the OA's chat (Zalo carries no payload)
    zalo_bot_url: str = ""  # the Zalo bot's link as Zalo shows it (no payload)

    @property
    def ready(self) -> bool:
        return self.key is not None

    def payload(self, link: DeepLink) -> str:
        if self.key is None:
            raise LookupError("deep links need [links] secret (or [web] secret)")
        return self.key.payload(link)

    def read(self, payload: str) -> DeepLink | None:
        return self.key.read(payload) if self.key is not None else None

    def typed(self, text: str) -> DeepLink | None:
        return self.key.typed(text) if self.key is not None else None

    def telegram(self, link: DeepLink) -> str:
        """``https://t.me/<bot>?start=<payload>``; "" while the bot's username is unknown."""
        if not self.telegram_username:
            return ""
        return f"https://t.me/{quote(self.telegram_username)}?start={self.payload(link)}"

    def urls(self, link: DeepLink) -> dict[str, str]:
        """Each configured channel's link: Telegram's carries the payload; Zalo's open the chat, where the payload
        is typed (``code``)."""
        found = {"telegram": self.telegram(link), "zalo_oa": self.zalo_oa_url, "zalo_bot": self.zalo_bot_url}
        return {channel: url for channel, url in found.items() if url}

    def primary(self, link: DeepLink) -> str:
        """The link a QR code holds: Telegram's when known (it carries the payload), else the first Zalo one."""
        urls = self.urls(link)
        return urls.get("telegram") or next(iter(urls.values()), "")
