"""The Zalo OA access token: refreshed ahead of expiry or when Zalo calls it invalid, one refresh at a time.

OAuth v4: ``POST {oauth_url}/v4/oa/access_token`` with header ``secret_key`` and form ``app_id``,
``grant_type=refresh_token``, ``refresh_token`` → ``{access_token, refresh_token, expires_in}``. The refresh token
is single-use, so the new pair is committed to the database before the access token is used, and the row is
locked during a refresh so that replicas never spend the same refresh token twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.config import ZaloOASettings
from bot.logs import redact
from bot.retry import TryLater
from models.clock import Clock
from models.db import Database
from models.metrics import Metrics
from models.zalo import ZaloToken, lock_tokens, seed_tokens, store_refreshed

log = logging.getLogger(__name__)

DEFAULT_LIFETIME = timedelta(hours=25)
PLATFORM = "zalo_oa"  # the label of its refreshes in /metrics


class TokenRefused(Exception):
    """Zalo would not refresh the tokens (refresh token used, expired or revoked; wrong app secret). Only an answer
    of the OAuth API saying so counts: a network error or an error page is ``TryLater``."""


def refusal_code(value: Any) -> int:
    """The error code of an OAuth answer (Zalo's are negative integers, sometimes as strings); 0 for none."""
    try:
        return int(str(value).strip()) if value is not None else 0
    except ValueError:
        return 0


class OATokens:
    def __init__(self, db: Database, clock: Clock, settings: ZaloOASettings, *, metrics: Metrics | None = None
                 ) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        self.metrics = metrics or Metrics()
        self._lock = asyncio.Lock()
        self._access = ""
        self._expires_at: datetime | None = None

    async def setup(self) -> None:
        """Store the configured tokens on first start (or when new ones were configured); else keep the stored."""
        refresh = self.settings.refresh_token.get_secret_value() if self.settings.refresh_token else ""
        access = self.settings.access_token.get_secret_value() if self.settings.access_token else ""
        async with self.db.transaction() as session:
            self._remember(await seed_tokens(session, self.settings.app_id, refresh, access, self.clock.now()))

    async def access_token(self, http: aiohttp.ClientSession) -> str:
        """A token that is not about to expire."""
        if self._usable(self._access, self._expires_at):
            return self._access
        return await self.refresh(http, stale=self._access)

    async def refresh(self, http: aiohttp.ClientSession, *, stale: str) -> str:
        """A new access token, unless someone replaced ``stale`` already (this process or another replica)."""
        async with self._lock:
            if self._access != stale and self._usable(self._access, self._expires_at):
                return self._access
            async with self.db.transaction() as session:
                row = await lock_tokens(session, self.settings.app_id)
                if row is None:
                    raise TokenRefused("no tokens are stored")
                if row.access_token != stale and self._usable(row.access_token, row.expires_at):
                    self._remember(row)  # another replica refreshed while we waited for the row
                    return row.access_token
                access, refresh, lifetime = await self._counted(self._request(http, row.refresh_token))
                now = self.clock.now()
                store_refreshed(row, access, refresh, now + lifetime, now)
            self._remember(row)  # committed: only now is the new token used
            log.info("zalo_oa: access token refreshed; valid until %s", row.expires_at)
            return access

    async def _counted(self, request: Awaitable[tuple[str, str, timedelta]]) -> tuple[str, str, timedelta]:
        """The refresh, counted by outcome: refreshed, refused (by Zalo), failed (tried again)."""
        counter = self.metrics.token_refreshes
        try:
            answer = await request
        except TokenRefused:
            counter.labels(PLATFORM, "refused").inc()
            raise
        except Exception:
            counter.labels(PLATFORM, "failed").inc()
            raise
        counter.labels(PLATFORM, "refreshed").inc()
        return answer

    def _usable(self, token: str, expires_at: datetime | None) -> bool:
        if not token:
            return False
        ahead = timedelta(minutes=self.settings.refresh_ahead_minutes)
        return expires_at is None or expires_at - ahead > self.clock.now()

    def _remember(self, row: ZaloToken) -> None:
        redact.add(row.access_token, row.refresh_token)  # Zalo's tokens rotate: the logs learn each new pair
        self._access, self._expires_at = row.access_token, row.expires_at

    async def _request(self, http: aiohttp.ClientSession, refresh_token: str) -> tuple[str, str, timedelta]:
        if not refresh_token:
            raise TokenRefused("no refresh token is stored")
        secret = self.settings.app_secret.get_secret_value() if self.settings.app_secret else ""
        form = {"app_id": self.settings.app_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
        url = f"{self.settings.oauth_url.rstrip('/')}/v4/oa/access_token"
        try:
            async with http.post(url, data=form, headers={"secret_key": secret}) as response:
                status = response.status
                try:
                    body: Any = await response.json(content_type=None)
                except (ValueError, RecursionError):
                    body = None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TryLater(f"token refresh: {type(error).__name__}") from None
        if not (isinstance(body, dict) and body.get("access_token") and body.get("refresh_token")):
            if status < 500 and isinstance(body, dict) and refusal_code(body.get("error")):  # Zalo said no
                fields = ("error", "error_name", "error_reason", "error_description", "message")
                raise TokenRefused(f"the refresh was refused: { {k: body.get(k) for k in fields if body.get(k)} }")
            # a proxy's error page, Zalo down, an answer without tokens: tried again (a failed refresh spends nothing)
            raise TryLater(f"token refresh: HTTP {status}, not an answer of the OAuth API with tokens")
        try:
            lifetime = timedelta(seconds=int(str(body.get("expires_in")).strip()))  # sometimes a string
        except ValueError:
            lifetime = DEFAULT_LIFETIME
        access, refresh = str(body["access_token"]), str(body["refresh_token"])
        redact.add(access, refresh)  # before anything (a failed write quoting its parameters) can log them
        return access, refresh, lifetime
