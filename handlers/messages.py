"""The channel-neutral message model: what arrives (Incoming), what we answer (Reply), what a channel can show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from models.parse import plain

MAX_ACTION_BYTES = 64  # Telegram's callback_data limit; our actions are compact ids, never user text


@dataclass(frozen=True)
class Button:
    label: str
    action: str  # a payload of handlers.actions
    key: str = ""  # what to type to choose it where there are no buttons; its number in the list when empty

    def __post_init__(self) -> None:
        if len(self.action.encode()) > MAX_ACTION_BYTES:
            raise ValueError(f"button action longer than {MAX_ACTION_BYTES} bytes: {self.action!r}")


@dataclass(frozen=True)
class DocumentRef:
    """A document the channel fetches when it sends the reply (e.g. a memo rendered as DOCX)."""

    kind: str
    id: int


@dataclass(frozen=True)
class Attachment:
    """A file made for this very reply (an export, a chart): sent as it is, never queued as a notification."""

    filename: str
    data: bytes = field(repr=False)
    mime: str = "application/octet-stream"
    kept: int | None = None  # the stored_file row holding it while it waits in the outbox (handlers/outgoing.py)


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    photo: str | Attachment = ""  # URL or platform file id, or an image we made (direct replies only)
    document: DocumentRef | Attachment | None = None
    edit: bool = False  # replace the message whose button was pressed (paging), where the channel can
    request_contact: str = ""  # label of a "share my phone number" button, where the channel has one
    notice: bool = False  # a short notice about a pressed button (stale, not allowed): a toast where possible
    listed: int = 0  # the text already lists the first ``listed`` buttons, each as "<key>. <label>"
    progress: str = ""  # a progress report: it replaces the chat's last one of this key where the channel can edit

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.photo, Attachment) or isinstance(self.document, Attachment):
            raise ValueError("attachments go with direct replies only; a notification refers to a document")
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        buttons = tuple(tuple(Button(**b) for b in row) for row in data.get("buttons", ()))
        document = DocumentRef(**data["document"]) if data.get("document") else None
        return cls(
            text=data["text"],
            buttons=buttons,
            photo=data.get("photo", ""),
            document=document,
            edit=data.get("edit", False),
            request_contact=data.get("request_contact", ""),
            notice=data.get("notice", False),
            listed=data.get("listed", 0),
            progress=data.get("progress", ""),
        )


@dataclass(frozen=True)
class Incoming:
    """One thing a user did: typed text, pressed a button, shared their phone number, sent a file."""

    channel: str
    user_id: str
    chat_id: str
    text: str = ""
    action: str = ""
    contact_phone: str = ""  # the user's own number, shared through the platform's consent button
    document_name: str = ""
    document_data: bytes = field(default=b"", repr=False)
    media: str = ""  # what the user sent that has no text for us: "image", "sticker", "voice"…
    image: bytes = field(default=b"", repr=False)  # the picture itself (media "image"), up to MAX_IMAGE_BYTES
    display_name: str = ""
    language_code: str = ""  # the platform's hint ("vi", "en-US")
    is_group: bool = False

    def __post_init__(self) -> None:
        """What the user wrote is made safe to keep (models.parse.plain): no NUL for PostgreSQL, no lone
        surrogate that cannot be encoded, whichever channel it came from."""
        for name in ("text", "action", "contact_phone", "document_name", "display_name", "language_code"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, plain(value))


@dataclass(frozen=True)
class Capabilities:
    """What a channel can show; the renderer falls back for what it cannot."""

    buttons: bool = True
    max_buttons: int = 100
    edits: bool = True
    documents: bool = True
    photos: bool = True
    request_contact: bool = True
    max_text: int = 4096


CONSOLE = Capabilities(buttons=False, edits=False, documents=True, photos=False, request_contact=False, max_text=10_000)
