"""Progress of the long CLI commands (import, export, backup, restore, copy-db) on stderr: a bar on a terminal, and
a plain line at every tenth of the work otherwise (a log file, systemd's journal, a cron mail), where a bar
redrawn with carriage returns would only be noise. Work done by its first report (a small file) shows nothing."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO, TypeVar, overload

from tqdm import tqdm

STEPS = 10  # plain lines per piece of work
T = TypeVar("T")


class Meter:
    """Call it with (done, total) as the work goes on; close it when the work is over (or use ``with``)."""

    def __init__(self, label: str, unit: str, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _is_tty(self.stream) if tty is None else tty
        self.done = 0
        self.total = 0
        self._bar: tqdm[Any] | None = None
        self._step = 0  # the last tenth a plain line was written for
        self._partial = False  # a report came before the work was done: it is long enough to be watched

    def __call__(self, done: int, total: int) -> None:
        self.total = total
        self.done = max(self.done, min(done, total) if total else done)
        if self.done < total:
            self._partial = True
        if not self._partial:
            return
        if self.tty:
            self._draw()
            return
        step = self.done * STEPS // total if total else 0
        if step > self._step:
            self._step = step
            self._line()

    def _draw(self) -> None:
        if self._bar is None:
            self._bar = tqdm(total=self.total, desc=self.label, unit=f" {self.unit}", file=self.stream,
                             disable=False, leave=True, dynamic_ncols=True, mininterval=0.2)
        if self._bar.total != self.total:
            self._bar.total = self.total
            self._bar.refresh()
        self._bar.update(self.done - self._bar.n)

    def _line(self) -> None:
        share = f" ({self.done * 100 // self.total}%)" if self.total else ""
        print(f"{self.label}: {self.done} of {self.total} {self.unit}{share}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False


class Reported(Sequence[T]):
    """Rows that report to a meter as they are read one after another (written out); indexing and slicing (a look
    at the first rows) do not count."""

    def __init__(self, rows: Sequence[T], meter: Callable[[int, int], None]) -> None:
        self.rows = rows
        self.meter = meter

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self.rows[index]

    def __iter__(self) -> Iterator[T]:
        total = len(self.rows)
        for done, row in enumerate(self.rows, start=1):
            yield row
            self.meter(done, total)
