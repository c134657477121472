"""Files we made for one reply (an export, a chart) kept for a while, for channels that can only send a link.

Stored in the database so that any replica can serve the link; each row lives as long as its link and is deleted
by the next store after that.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import Column, LargeBinary, delete
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import UTCDateTime

MAX_NAME = 200
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
        return extension_of(self.filename)


def extension_of(filename: str) -> str:
    """The file's extension for a link ("xlsx", "png"), "bin" when it has none we can show."""
    found = _EXTENSION.search(filename)
    return found.group(1).lower() if found else "bin"


async def store(
    session: AsyncSession, filename: str, mime: str, data: bytes, now: datetime, ttl: timedelta
) -> StoredFile:
    """Keep a file until ``now + ttl`` (its id is in the link); files whose time is up are removed."""
    await session.exec(delete(StoredFile).where(col(StoredFile.expires_at) < now))  # type: ignore[call-overload]
    stored = StoredFile(filename=filename[:MAX_NAME], mime=mime[:100], data=data, created_at=now, expires_at=now + ttl)
    session.add(stored)
    await session.flush()
    return stored


async def load(session: AsyncSession, file_id: int, now: datetime) -> StoredFile | None:
    """The file, unless it never existed or its time is up."""
    stored = await session.get(StoredFile, file_id)
    return stored if stored is not None and stored.expires_at >= now else None
