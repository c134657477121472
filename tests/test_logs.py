"""Secrets never reach a log line, a logged traceback or an exception printed at exit, whatever their length."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.logs
from bot.config import Settings
from bot.logs import Redactor, configure_logging, secrets_of

TOKEN = "123456:AAH-telegram-token"
PASSWORD = "p4z"  # three characters: short secrets are hidden too
DB_URL = f"postgresql+asyncpg://ocop:{PASSWORD}@db.example.internal/ocop"


@pytest.fixture
def redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[Redactor]:
    """configure_logging for one test: its own secrets, and the process's logging and hooks restored afterwards."""
    fresh = Redactor()
    monkeypatch.setattr(bot.logs, "redact", fresh)
    factory, hook, thread_hook = logging.getLogRecordFactory(), sys.excepthook, threading.excepthook
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(Settings(telegram={"token": TOKEN}, database={"url": DB_URL}, log_level="DEBUG"))
    try:
        yield fresh
    finally:
        logging.setLogRecordFactory(factory)
        sys.excepthook, threading.excepthook = hook, thread_hook
        logging.captureWarnings(False)
        root.handlers, root.level = handlers, level


def test_every_secret_in_the_settings_is_found() -> None:
    settings = Settings(
        telegram={"token": "111:AAA-telegram", "webhook_secret": "hook-secret-0123456789"},
        zalo={"bot": {"token": "222:zalo-token"}},
        web={"secret": "link-signing-secret-0123456789-abcdef"},
    )
    assert set(secrets_of(settings)) == {
        "111:AAA-telegram", "hook-secret-0123456789", "222:zalo-token", "link-signing-secret-0123456789-abcdef"
    }


def test_secrets_of_any_length_and_as_urls_write_them_are_hidden() -> None:
    redact = Redactor()
    redact.add("ab", "abcdef", "", None, "k:y/z")
    assert redact("x ab y abcdef z") == "x *** y *** z"  # the longer secret goes whole, not as ab + cdef
    assert redact("token=k%3Ay%2Fz and k:y/z") == "token=*** and ***"
    assert redact("nothing here") == "nothing here"


def test_a_message_and_its_arguments_are_redacted(redaction: Redactor, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test.redact").debug("POST http://api/bot%s/getMe as ocop:%s", TOKEN, PASSWORD)
        logging.getLogger("test.redact").warning("%d tries with %s", "not a number", TOKEN)  # a broken format
    assert TOKEN not in caplog.text and PASSWORD not in caplog.text
    assert "bot***/getMe as ocop:***" in caplog.text
    assert "not a number" in caplog.text


def test_a_logged_traceback_is_redacted(redaction: Redactor, caplog: pytest.LogCaptureFixture) -> None:
    own = io.StringIO()
    handler = logging.StreamHandler(own)  # a handler added later, with a formatter of its own
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        try:
            try:
                raise ConnectionError(f"password authentication failed: {PASSWORD}")
            except ConnectionError as cause:
                raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.") from cause
        except RuntimeError:
            logging.getLogger("test.redact").exception("start failed")
    finally:
        logging.getLogger().removeHandler(handler)
    for text in (caplog.text, own.getvalue()):
        assert "Traceback (most recent call last)" in text and "The token `***` was rejected" in text
        assert "authentication failed: ***" in text
        assert TOKEN not in text and PASSWORD not in text
    record = caplog.records[-1]
    assert record.exc_info is None  # the record keeps only the redacted text, nothing a handler could reformat
    assert record.exc_text and TOKEN not in record.exc_text


def test_stack_info_is_redacted(redaction: Redactor) -> None:
    record = logging.getLogRecordFactory()(
        "test", logging.WARNING, __file__, 1, "where", (), None, None, f'  File "x.py", line 1\n    call("{TOKEN}")'
    )
    assert record.stack_info == '  File "x.py", line 1\n    call("***")'


def test_secrets_learnt_at_run_time_are_hidden(redaction: Redactor, caplog: pytest.LogCaptureFixture) -> None:
    bot.logs.redact.add("rotated-access-2", "rotated-refresh-2")
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.redact").info("refreshed: rotated-access-2 / rotated-refresh-2")
    assert "refreshed: *** / ***" in caplog.text


def test_asyncio_errors_nobody_retrieved_are_redacted(redaction: Redactor, caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.call_exception_handler({"message": "Task exception was never retrieved",
                                     "exception": RuntimeError(f"bad token {TOKEN}")})
    finally:
        loop.close()
    assert "Task exception was never retrieved" in caplog.text and "bad token ***" in caplog.text
    assert TOKEN not in caplog.text


def test_warnings_are_redacted(redaction: Redactor, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"connecting to {DB_URL}", UserWarning, stacklevel=1)
    assert "ocop:***@db.example.internal" in caplog.text and PASSWORD not in caplog.text


def test_an_uncaught_exception_in_a_thread_is_redacted(redaction: Redactor, capsys: pytest.CaptureFixture[str]) -> None:
    def fail() -> None:
        raise RuntimeError(f"token {TOKEN}")

    thread = threading.Thread(target=fail, name="sender")
    thread.start()
    thread.join()
    err = capsys.readouterr().err
    assert "Exception in thread sender" in err and "RuntimeError: token ***" in err and TOKEN not in err


def test_an_exception_printed_at_exit_is_redacted(tmp_path: Path) -> None:
    """As when Telegram refuses the token at start: PTB's InvalidToken, uncaught, names the token."""
    script = (
        "from telegram.error import InvalidToken\n"
        "from bot.config import load_settings\n"
        "from bot.logs import configure_logging\n"
        "settings = load_settings()\n"
        "configure_logging(settings)\n"
        "token = settings.telegram.token.get_secret_value()\n"
        "raise InvalidToken(f'The token `{token}` was rejected by the server.')\n"
    )
    env = {**os.environ, "OCOP_BOT__TELEGRAM__TOKEN": TOKEN, "OCOP_BOT__DATABASE__URL": DB_URL,
           "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert "InvalidToken: The token `***` was rejected" in done.stderr, done.stderr
    assert TOKEN not in done.stderr


def test_log_format_json_writes_one_redacted_object_a_line(tmp_path: Path) -> None:
    """`log_format = "json"` as the process sets it up: each record one JSON line, with the ids of its task's
    log_context and its extra, the message and the traceback redacted."""
    script = (
        "import logging\n"
        "from bot.config import load_settings\n"
        "from bot.logs import configure_logging, log_context\n"
        "settings = load_settings()\n"
        "configure_logging(settings)\n"
        "token = settings.telegram.token.get_secret_value()\n"
        "with log_context(channel='telegram', chat_id='77', update_id='5001'):\n"
        "    try:\n"
        "        raise RuntimeError(f'refused {token}')\n"
        "    except RuntimeError:\n"
        "        logging.getLogger('bot.x').exception('sending with %s failed', token,\n"
        "                                              extra={'error_id': 'ab12cd34'})\n"
        "logging.getLogger('bot.y').info('line two\\nstill line two')\n"
    )
    env = {**os.environ, "OCOP_BOT__TELEGRAM__TOKEN": TOKEN, "OCOP_BOT__DATABASE__URL": DB_URL,
           "OCOP_BOT__LOG_FORMAT": "json", "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["message"] == "sending with *** failed" and first["level"] == "ERROR" and first["logger"] == "bot.x"
    assert (first["channel"], first["chat_id"], first["update_id"], first["error_id"]) == ("telegram", "77", "5001",
                                                                                          "ab12cd34")
    assert "RuntimeError: refused ***" in first["exception"]
    assert second["message"] == "line two\nstill line two" and "chat_id" not in second  # outside the context
    assert TOKEN not in done.stderr and "p4z" not in done.stderr
