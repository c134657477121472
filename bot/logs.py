"""Logging set-up: levels for chatty libraries, and secrets replaced by *** wherever the process writes an error.

Every log record is redacted as it is made (a record factory): its message, its formatted exception and its stack,
so no handler, formatter or test capture ever sees a secret. Exceptions nobody catches are printed by
``sys.excepthook`` (the main thread) and ``threading.excepthook`` (other threads): both are replaced by versions
that redact. asyncio needs no handler of its own: its default exception handler ("Task exception was never
retrieved", errors in callbacks) writes through the ``asyncio`` logger, so its records are redacted like any other.

Secrets come from the settings at start and, at run time, from whoever learns a new one (the Zalo OA tokens the
bot refreshes): ``redact.add(token)``.

``log_format = "json"`` writes one JSON object a line (``JsonFormatter``): the time, level, logger and message, the
ids of what was being worked on — ``channel``, ``chat_id``, ``update_id`` from ``log_context`` (the inbox worker
and the outbox sender set it), or passed as ``extra`` — and the ``error_id`` a user was shown in an apology, so
that the office finds the line a user quotes. The record is redacted before it gets there, and the line once more.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url

from bot.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HIDDEN = "***"


class Redactor:
    """The secrets to hide, whatever their length, and the text with each of them replaced by ``***``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        """Hide these from now on (empty values are ignored), as written and as URLs and JSON escape them."""
        forms = {form for secret in secrets if secret for form in _written_forms(secret)}
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            longest_first = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(secret) for secret in longest_first))

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(HIDDEN, text) if pattern is not None and text else text


def _written_forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1],
            repr(secret)[1:-1]}


redact = Redactor()  # the process's secrets: configure_logging adds the settings', others add rotated tokens


def redact_record(record: logging.LogRecord) -> None:
    """Hide every secret in what ``record`` prints: the message, the exception with its traceback, the stack."""
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: show both, as logging's own error report would
        message = f"{record.msg!r} with arguments {record.args!r}"
    record.msg, record.args = redact(message), None
    if isinstance(record.exc_info, tuple) and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None  # only the redacted text is kept: no handler can format the original
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


IDS = ("channel", "chat_id", "update_id", "message_id", "error_id")  # what a JSON line carries besides the message
_context: ContextVar[dict[str, str]] = ContextVar("ocop_log_context", default={})  # noqa: B039 (never mutated)


@contextlib.contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """The ids of what this task works on (``channel``, ``chat_id``, ``update_id``…), on every record it makes."""
    token = _context.set({**_context.get(), **{key: str(value) for key, value in ids.items()}})
    try:
        yield
    finally:
        _context.reset(token)


class RedactingRecordFactory:
    """Wraps the record factory in place: every record is redacted as it is made, and carries the task's
    ``log_context`` (as ``record.ids``: a record's own attributes are left for ``extra``)."""

    def __init__(self, make: Any) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.make(*args, **kwargs)
        redact_record(record)
        record.ids = _context.get()
        return record


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the ids (``IDS``) the
    record carries, ``exception`` when there is one; secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids: dict[str, str] = dict(getattr(record, "ids", None) or {})
        ids.update({key: str(getattr(record, key)) for key in IDS if getattr(record, key, None) is not None})
        event.update({key: ids[key] for key in IDS if key in ids})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            event["exception"] = record.exc_text
        if record.stack_info:
            event["stack"] = record.stack_info
        return redact(json.dumps(event, ensure_ascii=False))


def print_uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    """``sys.excepthook``: the traceback Python would print at exit, redacted."""
    sys.stderr.write(redact("".join(traceback.format_exception(kind, error, tb))))


def print_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook``: as Python prints it, redacted (SystemExit ends a thread silently)."""
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else threading.get_ident()
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))


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


def install_redaction() -> None:
    """Redact log records as they are made and uncaught exceptions as they are printed (once per process)."""
    if not isinstance(logging.getLogRecordFactory(), RedactingRecordFactory):
        logging.setLogRecordFactory(RedactingRecordFactory(logging.getLogRecordFactory()))
    sys.excepthook = print_uncaught
    threading.excepthook = print_uncaught_in_thread
    logging.captureWarnings(True)  # warnings go through logging too, so they are redacted


def configure_logging(settings: Settings) -> None:
    redact.add(*secrets_of(settings), make_url(settings.database.url).password)
    install_redaction()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(FORMAT))
    logging.basicConfig(level=settings.log_level, handlers=[handler])
    if settings.log_level != "DEBUG":
        for chatty in ("alembic", "httpx", "httpcore", "aiohttp.access"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
