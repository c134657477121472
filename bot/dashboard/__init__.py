"""The coordination office's web dashboard, served by our aiohttp app under /dashboard (see routes)."""

from bot.dashboard.routes import COOKIE, LANG_COOKIE, setup

__all__ = ["COOKIE", "LANG_COOKIE", "setup"]
