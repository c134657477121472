"""Fitting a Reply to what a channel can show: numbered options instead of buttons, long text split on lines."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import Attachment, Button, Capabilities, DocumentRef, Reply
from models.text import normalize


@dataclass(frozen=True)
class Rendered:
    """One message as the channel sends it; ``options`` are the numbered choices it shows instead of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    options: tuple[Button, ...] = ()
    photo: str | Attachment = ""
    document: DocumentRef | Attachment | None = None
    edit: bool = False
    request_contact: str = ""
    notice: bool = False


def split_text(text: str, limit: int) -> list[str]:
    """Split at line boundaries so that no part exceeds ``limit`` (a longer line is cut)."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts


def render(reply: Reply, capabilities: Capabilities, choose_hint: str) -> list[Rendered]:
    """The messages to send for ``reply``; buttons (if any) go with the last one."""
    flat = tuple(button for row in reply.buttons for button in row)
    text = reply.text
    options: tuple[Button, ...] = ()
    buttons = reply.buttons
    if flat and not (capabilities.buttons and len(flat) <= capabilities.max_buttons):
        numbered = "\n".join(f"{number}. {button.label}" for number, button in enumerate(flat, start=1))
        text = f"{text}\n\n{numbered}\n{choose_hint}"
        options, buttons = flat, ()
    parts = split_text(text, capabilities.max_text)
    rendered = [Rendered(part) for part in parts[:-1]]
    photo, document = _files(reply, capabilities)
    last = Rendered(
        parts[-1],
        buttons,
        options,
        photo=photo,
        document=document,
        edit=reply.edit and capabilities.edits and len(parts) == 1,
        request_contact=reply.request_contact if capabilities.request_contact else "",
        notice=reply.notice,
    )
    return [*rendered, last]


def _files(reply: Reply, capabilities: Capabilities) -> tuple[str | Attachment, DocumentRef | Attachment | None]:
    """The photo and document a channel can take: an image we made goes as a file where photos cannot; files we
    made are dropped where no file can be sent (a DocumentRef stays: such channels send a download link)."""
    photo, document = reply.photo, reply.document
    if isinstance(document, Attachment) and not capabilities.documents:
        document = None
    if isinstance(photo, Attachment):
        if not (capabilities.photos and capabilities.documents):
            if capabilities.documents and document is None:
                document = photo
            photo = ""
    elif not capabilities.photos:
        photo = ""
    return photo, document


def choose_option(text: str, options: list[list[str]]) -> str | None:
    """The action of the numbered option the user typed, by number or by its label; None otherwise."""
    typed = text.strip().rstrip(".")
    if typed.isdigit():
        index = int(typed) - 1
        return options[index][1] if 0 <= index < len(options) else None
    key = normalize(typed)
    matches = [action for label, action in options if key and normalize(label) == key]
    return matches[0] if len(matches) == 1 else None
