"""The search index owned by a running process, kept in step with the catalogue in the database.

Every process (bot replicas, CLI) compares the catalogue version counter that imports and edits bump
(models.catalog.bump_catalog_version) at most once per ``check_interval`` and rebuilds its index in a worker
thread when it changed, serving the previous index meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import date

from sqlmodel import col, select

from models.catalog import Producer, Product, catalog_version
from models.db import Database
from models.search import Document, Filters, SearchIndex, SearchResult

log = logging.getLogger(__name__)


_DOCUMENT_COLUMNS = (
    col(Product.id), col(Product.name), col(Producer.name), col(Producer.kind), col(Producer.province),
    col(Producer.old_province), col(Producer.ward), col(Producer.address), col(Product.group), col(Product.subgroup),
    col(Product.stars), col(Product.potential_5), col(Product.description), col(Product.decision_date),
)
CHUNK = 2000  # rows read between two turns of the event loop


async def load_documents(db: Database) -> list[Document]:
    """Every visible product, as the index sees it: plain rows read in chunks, so that a large catalogue does not
    hold the event loop (60k products as ORM objects held it 2.6 s)."""
    query = (select(*_DOCUMENT_COLUMNS).join(Producer, col(Product.producer_id) == col(Producer.id))
             .where(col(Product.hidden).is_(False)).order_by(col(Product.id)))
    documents: list[Document] = []
    async with db.session() as session:
        result = await session.stream(query)
        async for rows in result.partitions(CHUNK):
            documents.extend(Document(*row) for row in rows)
            await asyncio.sleep(0)
    return documents


class SearchService:
    def __init__(
        self, db: Database, *, check_interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._check_interval = check_interval
        self._clock = clock
        self._index: SearchIndex | None = None
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        self._rebuild: asyncio.Task[None] | None = None

    @property
    def version(self) -> int | None:
        """The catalogue version the current index was built from."""
        return self._version

    async def refresh(self) -> None:
        """Rebuild the index from the database now."""
        async with self._lock:
            await self._build()

    async def _build(self) -> None:
        async with self._db.session() as session:
            version = await catalog_version(session)
        documents = await load_documents(self._db)
        self._index = await asyncio.to_thread(SearchIndex, documents)
        self._version = version
        self._checked_at = self._clock()

    async def index(self) -> SearchIndex:
        """The current index; built on first use, rebuilt in the background once the catalogue changed."""
        if self._index is None:
            async with self._lock:
                if self._index is None:
                    await self._build()
        elif self._clock() - self._checked_at >= self._check_interval and not self._rebuilding:
            # Looked at beside the caller, not by it: the caller may hold a connection in a transaction, and waiting
            # for a second one while every connection is held that way would wait for ever.
            self._checked_at = self._clock()
            self._rebuild = asyncio.create_task(self._rebuild_if_changed())
        assert self._index is not None
        return self._index

    async def _rebuild_if_changed(self) -> None:
        try:
            async with self._db.session() as session:
                version = await catalog_version(session)
            if version != self._version:
                await self.refresh()
        except Exception as error:  # the database is away: the index stays as it is, looked at again later
            log.warning("the search index could not be checked (%s)", error)

    @property
    def _rebuilding(self) -> bool:
        return self._rebuild is not None and not self._rebuild.done()

    async def wait_rebuilt(self) -> None:
        """Wait for a background rebuild, if one is running (tests, orderly shutdown)."""
        if self._rebuild is not None:
            await self._rebuild

    async def search(
        self, text: str, *, filters: Filters | None = None, offset: int = 0, limit: int = 10, today: date | None = None
    ) -> SearchResult:
        """See SearchIndex.search; ``today`` (the local day) ranks a valid certificate above an expired one."""
        index = await self.index()
        return index.search(text, filters=filters, offset=offset, limit=limit, today=today)
