"""Long steps on the console, for people: one line per step, "pulling data (1 file, 36.9 kB) ... done in 2.1 s".

The tools a step runs (DVC and the stages it starts) write to the log file, never here (see
`mlops.training.project.run_dvc`). Where stderr is a terminal, the step's line updates in place while it runs (the
time so far and what it is doing); anywhere else (CI, a pipe, a file) it is written once, whole, when the step ends,
with no carriage return or escape sequence (a line written in two halves could be split by a warning logged in
between). With `--verbose` (MLOPS_VERBOSE), where log lines share the console, a step is two whole lines: its start
and its end.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from mlops.core.logs import verbose_from_env


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


class Step:
    """The step under way: `note` says what it is doing now (shown only on a terminal), `result` what it did (the
    end of its line)."""

    def __init__(self, steps: Steps, what: str) -> None:
        self._steps, self.what = steps, what
        self.started = time.monotonic()
        self.now = ""
        self.outcome = ""
        self.mode = "off"  # live (redrawn on a terminal) | verbose (two whole lines) | plain (one line) | off
        self.ended = False

    def note(self, text: str) -> None:
        self.now = text
        self._steps.redraw(self)

    def result(self, text: str) -> None:
        self.outcome = text

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Steps:
    """Writes steps to `stream` (default: stderr, looked up at each write); `enabled=False` writes nothing (library
    callers such as the retraining service, whose record of a step is its log lines)."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True, tick: float = 0.5) -> None:
        self._stream = stream
        self.enabled = enabled
        self._tick = tick
        self._lock = threading.Lock()
        self._drawn = ""  # the line last drawn in place

    @classmethod
    def silent(cls) -> Steps:
        return cls(enabled=False)

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def live(self) -> bool:
        """Redraw one line in place: only on a terminal, and not when log lines share the console (--verbose)."""
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty()) and not verbose_from_env()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def redraw(self, step: Step) -> None:
        if step.mode != "live" or step.ended:
            return
        text = f"{step.what} ... {step.elapsed():.0f} s" + (f"  {step.now}" if step.now else "")
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        text = text[:width]  # a wrapped line cannot be redrawn in place
        with self._lock:
            if not step.ended and text != self._drawn:
                self._write("\r" + text.ljust(len(self._drawn)))
                self._drawn = text

    def _finish(self, step: Step, end: str) -> None:
        with self._lock:
            step.ended = True
            if step.mode == "live":
                self._write("\r" + f"{step.what} ... {end}".ljust(len(self._drawn)) + "\n")
                self._drawn = ""
            elif step.mode == "verbose":
                self._write(f"{step.what}: {end}\n")
            else:
                self._write(f"{step.what} ... {end}\n")

    @contextmanager
    def step(self, what: str) -> Iterator[Step]:
        current = Step(self, what)
        if not self.enabled:
            yield current
            return
        current.mode = "live" if self.live() else "verbose" if verbose_from_env() else "plain"
        stop = threading.Event()
        ticker = None
        if current.mode == "live":
            self.redraw(current)
            ticker = threading.Thread(target=self._ticking, args=(current, stop), daemon=True)
            ticker.start()
        elif current.mode == "verbose":
            self._write(f"{what} ...\n")
        try:
            yield current
        except BaseException:
            self._stop(stop, ticker)
            self._finish(current, f"failed after {duration(current.elapsed())}")
            raise
        self._stop(stop, ticker)
        end = f"done in {duration(current.elapsed())}" + (f": {current.outcome}" if current.outcome else "")
        self._finish(current, end)

    def _ticking(self, step: Step, stop: threading.Event) -> None:
        while not stop.wait(self._tick):
            self.redraw(step)

    @staticmethod
    def _stop(stop: threading.Event, ticker: threading.Thread | None) -> None:
        stop.set()
        if ticker is not None:
            ticker.join(2)
