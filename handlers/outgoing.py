"""Messages as the outbox keeps them: a rendered message written as JSON, and read back when it is sent.

A file made for a reply (an export, a chart) is kept in the database with the message (``stored_file``) until
``KEEP_FILES`` after it was made (a channel that sends a link to it keeps it as long as the link lives); a memo is
named (``DocumentRef``) and made when it is sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.messages import Attachment, Button, DocumentRef
from handlers.render import Rendered
from models.stored_files import load, store

KEEP_FILES = timedelta(days=3)


async def _file(session: AsyncSession, value: str | DocumentRef | Attachment | None, now: datetime) -> Any:
    if isinstance(value, Attachment):
        kept = await store(session, value.filename, value.mime, value.data, now, KEEP_FILES) if value.kept is None \
            else None
        return {"stored": kept.id if kept is not None else value.kept}
    if isinstance(value, DocumentRef):
        return {"kind": value.kind, "id": value.id}
    return value


async def encode(session: AsyncSession, part: Rendered, now: datetime) -> dict[str, Any]:
    """A message for the outbox (files made for it are stored in ``session``)."""
    return {
        "text": part.text,
        "buttons": [[[b.label, b.action, b.key] for b in row] for row in part.buttons],
        "options": [[b.label, b.action, b.key] for b in part.options],
        "photo": await _file(session, part.photo, now) or "",
        "document": await _file(session, part.document, now),
        "edit": part.edit,
        "request_contact": part.request_contact,
        "notice": part.notice,
        **({"listing": part.listing} if part.listing else {}),
        **({"progress": part.progress} if part.progress else {}),
    }


async def _read_file(session: AsyncSession, value: Any, now: datetime) -> str | DocumentRef | Attachment | None:
    if isinstance(value, dict) and "stored" in value:
        kept = await load(session, int(value["stored"]), now)
        return Attachment(kept.filename, kept.data, kept.mime, kept.id) if kept is not None else None
    if isinstance(value, dict):
        return DocumentRef(str(value["kind"]), int(value["id"]))
    return value if isinstance(value, str) else None


async def decode(session: AsyncSession, body: dict[str, Any], now: datetime) -> Rendered:
    """The message as the channel sends it; a kept file that is gone by now is left out."""
    photo = await _read_file(session, body.get("photo") or "", now)
    document = await _read_file(session, body.get("document"), now)
    return Rendered(
        text=str(body.get("text", "")),
        buttons=tuple(tuple(Button(*b) for b in row) for row in body.get("buttons", ())),
        options=tuple(Button(*b) for b in body.get("options", ())),
        photo=photo if isinstance(photo, str | Attachment) else "",
        document=document if isinstance(document, DocumentRef | Attachment) else None,
        edit=bool(body.get("edit")),
        request_contact=str(body.get("request_contact", "")),
        notice=bool(body.get("notice")),
        listing=str(body.get("listing", "")),
        progress=str(body.get("progress", "")),
    )
