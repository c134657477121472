"""Files kept for a while for channels that can only send a link: the exports and charts made for one reply, and
the pictures admins send for broadcasts.

Stored in the database so that any replica can serve the link; each row lives as long as its link and is then
deleted (by the next store, or by a channel's pump).
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

from PIL import Image, UnidentifiedImageError
from sqlalchemy import Column, LargeBinary, delete
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import parse
from models.db import UTCDateTime

MAX_NAME = 200
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # the largest picture a user may send us (a broadcast's photo)
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


class StoredFile(SQLModel, table=True):
    __tablename__ = "stored_file"

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=MAX_NAME)
    mime: str = Field(max_length=100)
    data: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))

    @property
    def extension(self) -> str:
        """The file's extension for a link ("xlsx", "png"), "bin" when it has none we can show."""
        found = _EXTENSION.search(self.filename)
        return found.group(1).lower() if found else "bin"


FILE_REF = "file:"  # how a kept file is named where a URL could also be (a broadcast's photo)
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")  # what Telegram and Zalo both show as a photo


def image_type(data: bytes) -> str | None:
    """The MIME type of a sound JPEG, PNG, GIF or WebP image (checked by Pillow, not decoded), None otherwise."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            found = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return Image.MIME.get(found) if found in IMAGE_FORMATS else None


def file_ref(stored: StoredFile) -> str:
    return f"{FILE_REF}{stored.id}"


def ref_id(text: str) -> int | None:
    """The kept file a ``file:N`` reference names; None for a URL or anything else."""
    return parse.canonical(text.removeprefix(FILE_REF)) if text.startswith(FILE_REF) else None


async def store(
    session: AsyncSession, filename: str, mime: str, data: bytes, now: datetime, ttl: timedelta
) -> StoredFile:
    """Keep a file until ``now + ttl`` (its id is in the link); files whose time is up are removed."""
    await remove_expired(session, now)
    stored = StoredFile(filename=filename[:MAX_NAME], mime=mime[:100], data=data, created_at=now, expires_at=now + ttl)
    session.add(stored)
    await session.flush()
    return stored


async def remove_expired(session: AsyncSession, now: datetime) -> int:
    """Delete the files whose links have expired; how many there were."""
    result = await session.exec(delete(StoredFile).where(col(StoredFile.expires_at) < now))  # type: ignore[call-overload]
    return int(result.rowcount or 0)


async def load(session: AsyncSession, file_id: int, now: datetime) -> StoredFile | None:
    """The file, unless it never existed or its time is up."""
    stored = await session.get(StoredFile, file_id)
    return stored if stored is not None and stored.expires_at >= now else None
