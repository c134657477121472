"""Logging set-up: levels for chatty libraries, and secrets replaced by *** in every record."""

from __future__ import annotations

import logging

from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url

from bot.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def secrets_of(model: BaseModel) -> list[str]:
    """Every SecretStr value in the settings, however deeply nested."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(secrets_of(value))
    return found


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format=FORMAT)
    secrets = secrets_of(settings)
    password = make_url(settings.database.url).password
    if password:
        secrets.append(str(password))
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    if settings.log_level != "DEBUG":
        for chatty in ("alembic", "httpx", "httpcore", "aiohttp.access"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
