"""Progress of a stage's long steps: a tqdm bar on a terminal, a few plain lines anywhere else.

DVC runs a stage with its output on a pipe, and CI or a batch system writes it to a file: there a bar
writes a carriage-return frame per update, and those frames made most of a 151 KB log of the default
run. ``progress`` gives a tqdm bar when stderr is a terminal; otherwise it writes one line each time
another ``LINE_PERCENT`` % of the step is done (at most one every ``LINE_SECONDS`` seconds) and a last
line with the step's time, e.g.::

    estimate: 96/456 tasks (21%), 25 s
    estimate: 456/456 tasks done in 1 min 58 s

The environment variable ``IBPIPE_PROGRESS`` overrides the choice: ``bar``, ``lines`` or ``off``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

VARIABLE = "IBPIPE_PROGRESS"
MODES = ("bar", "lines", "off")
LINE_PERCENT = 5  # a line each time another 5 % of the step is done ...
LINE_SECONDS = 10.0  # ... but no more often than every 10 s (a fast step writes only its last line)


def progress_mode(stream: TextIO | None = None) -> str:
    """``bar`` on a terminal, ``lines`` elsewhere, unless ``IBPIPE_PROGRESS`` says bar, lines or off."""
    chosen = os.environ.get(VARIABLE, "").strip().lower()
    if chosen in MODES:
        return chosen
    stream = stream or sys.stderr
    try:
        return "bar" if stream.isatty() else "lines"
    except (AttributeError, ValueError):  # a closed or unusual stream
        return "lines"


def progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str | None,
    unit: str = "step",
    stream: TextIO | None = None,
) -> Any:
    """A progress reporter over ``total`` steps (or over ``iterable``): ``update(n)``, ``close()``, a context
    manager, iterable when given ``iterable``. ``desc=None`` reports nothing (for many small batches)."""
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    mode = "off" if desc is None else progress_mode(stream)
    if mode == "bar":
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, file=stream)
    return ProgressLines(iterable, total=total, desc=desc or "", unit=unit, stream=stream, silent=mode == "off")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressLines:
    """Sparse plain progress lines: what, i/n, percent and elapsed time; a last line with the total time."""

    def __init__(
        self,
        iterable: Iterable | None = None,
        *,
        total: int | None,
        desc: str,
        unit: str = "step",
        stream: TextIO | None = None,
        silent: bool = False,
        percent: float = LINE_PERCENT,
        seconds: float = LINE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.iterable, self.total, self.desc, self.silent = iterable, total, desc, silent
        self.units = unit if unit.endswith("s") else f"{unit}s"
        self.stream, self.percent, self.seconds, self.clock = stream, percent, seconds, clock
        self.n = 0
        self.start = self.last = clock()
        self.next_mark = percent
        self.closed = False

    def _write(self, text: str) -> None:
        if self.silent:
            return
        stream = self.stream or sys.stderr
        stream.write(f"{self.desc}: {text}\n")
        stream.flush()

    def _count(self) -> str:
        return f"{self.n}/{self.total} {self.units}" if self.total else f"{self.n} {self.units}"

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        if self.total:
            done = 100 * self.n / self.total
            if done < self.next_mark or self.n >= self.total:
                return
            self.next_mark = (math.floor(done / self.percent) + 1) * self.percent
            if now - self.last < self.seconds:
                return
            self._write(f"{self._count()} ({done:.0f}%), {_duration(now - self.start)}")
        elif now - self.last >= self.seconds * 3:  # no total: a line every 30 s
            self._write(f"{self._count()}, {_duration(now - self.start)}")
        else:
            return
        self.last = now

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        complete = self.total is None or self.n >= self.total
        ending = "done in" if complete else "stopped after"
        self._write(f"{self._count()} {ending} {_duration(self.clock() - self.start)}")

    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("this progress reporter was made without an iterable")
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
