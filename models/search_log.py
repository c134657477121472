"""What registered buyers and producers searched for, kept briefly so partner suggestions (models/matchmaking.py)
can use their recent interests.

A row is written in the transaction of the search's reply (its first page only, not when paging), and only for a
user who registered as a buyer or producer. Each user keeps their newest ``KEEP`` searches: the insert deletes the
older ones in the same transaction, so the table is bounded without a housekeeping job; suggestions read only the
searches of the last ``RECENT`` days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, delete
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import UTCDateTime, utcnow
from models.query import ParsedQuery
from models.search import Filters
from models.text import clean, normalize

KEEP = 20  # newest searches kept per user
RECENT = timedelta(days=90)  # searches older than this no longer count as an interest
MAX_TEXT = 120


class SearchLog(SQLModel, table=True):
    """One search: the words as typed (for the reason shown), the normalised words products must have, and the
    filters read from it or chosen while browsing."""

    __tablename__ = "search_log"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    text: str = Field(default="", max_length=MAX_TEXT)  # as typed, cleaned; "" for a browse
    words: str = Field(default="", max_length=MAX_TEXT)  # normalised required words, space-separated
    # Place names joined by "|" and group numbers by " " (plain text: read back without JSON decoding).
    places: str = Field(default="", max_length=MAX_TEXT)
    groups: str = Field(default="", max_length=20)
    min_stars: int | None = None  # the least stars asked for (an exact rating counts as its least)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


@dataclass(frozen=True)
class Interest:
    """A logged search as scoring reads it."""

    id: int
    user_id: int
    text: str
    words: frozenset[str]
    places: tuple[str, ...]
    groups: frozenset[int]
    min_stars: int | None

    @property
    def label(self) -> str:
        """What the person searched for, for the reason shown."""
        return self.text or " · ".join(self.places) or ""


async def record_search(
    session: AsyncSession, user_id: int, query: ParsedQuery, filters: Filters | None, now: datetime
) -> SearchLog | None:
    """Log a search (its first page); None when it asked for nothing (chatter, empty)."""
    chosen = query.filters.combined(filters) if filters is not None else query.filters
    words = normalize(" ".join(query.words))[:MAX_TEXT]
    stars = chosen.stars if chosen.stars is not None else chosen.min_stars
    if not (words or chosen.places or chosen.groups):
        return None
    row = SearchLog(
        user_id=user_id,
        text=clean(query.text)[:MAX_TEXT],
        words=words,
        places=_joined([place.name for place in chosen.places]),
        groups=" ".join(str(group) for group in sorted(chosen.groups)),
        min_stars=stars,
        at=now,
    )
    session.add(row)
    await session.flush()
    newest = select(SearchLog.id).where(SearchLog.user_id == user_id).order_by(col(SearchLog.id).desc()).limit(KEEP)
    kept = [int(n) for n in (await session.exec(newest)).all()]
    if len(kept) == KEEP:
        await session.exec(  # type: ignore[call-overload]
            delete(SearchLog).where(col(SearchLog.user_id) == user_id, col(SearchLog.id) < min(kept))
        )
    return row


def _joined(names: list[str]) -> str:
    """The place names joined by "|", as many whole names as fit."""
    kept: list[str] = []
    for name in names:
        if len("|".join([*kept, name])) > MAX_TEXT:
            break
        kept.append(name)
    return "|".join(kept)


async def recent_interests(session: AsyncSession, user_ids: Any, now: datetime) -> dict[int, list[Interest]]:
    """The searches of the last RECENT days of each user of ``user_ids`` (ids, or a select of them), newest first."""
    found: dict[int, list[Interest]] = {}
    query = (
        select(SearchLog.id, SearchLog.user_id, SearchLog.text, SearchLog.words, SearchLog.places, SearchLog.groups,
               SearchLog.min_stars)
        .where(col(SearchLog.user_id).in_(user_ids), col(SearchLog.at) >= now - RECENT)
        .order_by(col(SearchLog.user_id), col(SearchLog.id).desc())
    )
    rows = await (await session.connection()).execute(query)  # plain rows: no ORM layer for thousands of them
    for row_id, user_id, text, words, places, groups, stars in rows.all():
        found.setdefault(user_id, []).append(
            Interest(row_id, user_id, text, frozenset(words.split()), tuple(places.split("|")) if places else (),
                     frozenset(int(group) for group in groups.split()), stars)
        )
    return found
