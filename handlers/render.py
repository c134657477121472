"""Fitting a Reply to what a channel can show: numbered options instead of buttons, long text split on lines."""

from __future__ import annotations

from dataclasses import dataclass, replace

from handlers.messages import Attachment, Button, Capabilities, DocumentRef, Reply
from models import parse
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
    listing: str = ""  # the buttons as numbered options, sent instead of them if the platform refuses buttons
    progress: str = ""  # Reply.progress, where the channel edits messages (each report is a new message elsewhere)


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


@dataclass(frozen=True)
class Wording:
    """What the renderer adds in the user's language: the hint under a numbered menu ("" for none) and the line
    naming the words that can be typed (a template with {words})."""

    hint: str = ""
    typed: str = "{words}"


def keyed(buttons: tuple[Button, ...]) -> tuple[Button, ...]:
    """The buttons with what to type for each: its own key, else the next number after the numbered keys."""
    used = [parse.number(button.key) for button in buttons]
    number = max((n for n in used if n is not None), default=0)
    out = []
    for button in buttons:
        if not button.key:
            number += 1
            button = replace(button, key=str(number))
        out.append(button)
    return tuple(out)


def render(reply: Reply, capabilities: Capabilities, wording: Wording) -> list[Rendered]:
    """The messages to send for ``reply``; buttons (if any) go with the last one. Where buttons cannot be shown,
    they are listed once with what to type for each (numbers, or a word for "skip"); buttons the text already lists
    (``Reply.listed``) are not listed again. A reply that lists its buttons can be answered by number anywhere."""
    flat = keyed(tuple(button for row in reply.buttons for button in row))
    text = reply.text
    buttons = reply.buttons
    options: tuple[Button, ...] = flat[: reply.listed]
    listing = listed(flat[reply.listed :], wording)
    if flat and not (capabilities.buttons and len(flat) <= capabilities.max_buttons):
        if listing:
            text = f"{text}\n\n{listing}"
        options, buttons, listing = flat, (), ""
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
        progress=reply.progress if capabilities.edits and len(parts) == 1 else "",
        request_contact=reply.request_contact if capabilities.request_contact else "",
        notice=reply.notice,
        listing=listing if buttons else "",
    )
    return [*rendered, last]


def listed(buttons: tuple[Button, ...], wording: Wording) -> str:
    """Keyed buttons as lines to type from: numbered ones as "1. Label", the words to type for the others."""
    numbered = [f"{b.key}. {b.label}" for b in buttons if _numbered(b)]
    words = [f"«{b.key}»" for b in buttons if not _numbered(b)]
    lines = numbered + ([wording.typed.format(words=" / ".join(words))] if words else [])
    if numbered and wording.hint:
        lines.append(wording.hint)
    return "\n".join(lines)


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


def _numbered(button: Button) -> bool:
    return parse.number(button.key) is not None


def choose_option(text: str, options: list[list[str]]) -> str | None:
    """The action of the option the user typed: by its key (its number in ASCII digits, or a word), then by its
    label. Only 0-9 make a number: "²" or "２" pick nothing."""
    typed = text.strip().rstrip(".")
    number = parse.number(typed)
    keys = [option[2] if len(option) > 2 else str(index + 1) for index, option in enumerate(options)]
    if number is not None:
        by_number = [option[1] for option, key in zip(options, keys, strict=True) if parse.number(key) == number]
        if by_number:
            return by_number[0]
    key = normalize(typed)
    if not key:
        return None
    for option, option_key in zip(options, keys, strict=True):
        if parse.number(option_key) is None and normalize(option_key) == key:
            return option[1]
    matches = [option[1] for option in options if normalize(option[0]) == key]
    return matches[0] if len(matches) == 1 else None
