"""What an export holds before it is written: named columns, each with the kind of value it holds, and typed rows.

Values stay as the database keeps them (codes, numbers, booleans, dates); ``handlers/exports.labelled`` words them
in a user's language, ``machine_rows`` writes them as the importer and scripts read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from models.ocop import Group


class Kind(StrEnum):
    """How a column's values are written. The kinds named after a vocabulary are codes translated through the
    locale catalogues (``memo_status.draft``...)."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"  # a date (a real date cell in XLSX)
    DATETIME = "datetime"  # a local date and time, without time zone
    STARS = "stars"  # 3-5
    YES_NO = "yes_no"  # a boolean
    GROUP = "group"  # the group's number, written as its name
    MEMO_KIND = "memo_kind"
    MEMO_STATUS = "memo_status"
    REQUEST_STATUS = "request_status"
    BUYER_KIND = "buyer_kind"
    PRODUCER_KIND = "producer_kind"


@dataclass(frozen=True)
class Column:
    key: str  # the machine header, and the msgid ``export.column.<key>`` of the human one
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class Table:
    columns: Sequence[Column]
    rows: list[Sequence[Any]]

    @property
    def keys(self) -> list[str]:
        return [column.key for column in self.columns]


def machine_value(kind: Kind, value: Any) -> Any:
    """A value as our machine columns hold it: codes and numbers as they are, ISO dates, ``x`` for yes, the
    group's Vietnamese name."""
    if value is None:
        return ""
    if kind is Kind.YES_NO:
        return "x" if value else ""
    if kind is Kind.GROUP:
        return Group(value).label
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def machine_rows(table: Table) -> list[list[Any]]:
    kinds = [column.kind for column in table.columns]
    return [[machine_value(kind, value) for kind, value in zip(kinds, row, strict=True)] for row in table.rows]
