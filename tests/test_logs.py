import logging

import pytest

from bot.config import Settings
from bot.logs import RedactSecrets, configure_logging, secrets_of


def test_every_secret_in_the_settings_is_found() -> None:
    settings = Settings(
        telegram={"token": "111:AAA-telegram", "webhook_secret": "hook-secret-1"},
        zalo={"bot": {"token": "222:zalo-token"}},
        web={"secret": "link-signing-secret"},
    )
    assert set(secrets_of(settings)) == {"111:AAA-telegram", "hook-secret-1", "222:zalo-token", "link-signing-secret"}


def test_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    caplog.handler.addFilter(RedactSecrets(["111:AAA-telegram", "short"]))
    with caplog.at_level(logging.DEBUG):
        logger.debug("POST http://api/bot%s/getMe", "111:AAA-telegram")
    assert "111:AAA-telegram" not in caplog.text
    assert "bot***/getMe" in caplog.text


def test_database_password_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(database={"url": "postgresql+asyncpg://ocop:VeryS3cretPass@db/ocop"}, log_level="DEBUG")
    root = logging.getLogger()
    before = list(root.handlers)
    root.addHandler(caplog.handler)
    try:
        configure_logging(settings)
        logging.getLogger("test.db").warning("connecting with VeryS3cretPass")
    finally:
        root.handlers = before
        caplog.handler.filters.clear()
    assert "VeryS3cretPass" not in caplog.text
