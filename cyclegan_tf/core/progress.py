"""A progress line for long loops: the whole job's progress, a steady rate, the time left.

On a terminal the line is redrawn in place (no wider than the terminal, 80 columns when
unknown); anywhere else (a file, a pipe, CI, nohup) a plain line is printed every
`interval` seconds, never a carriage return. The rate is a moving average of recent step
times, so it neither shows 0 at the start nor drops after a pause (samples, evaluation)
once `pause_ended` is called.

Our own ~100 lines rather than tqdm (installed with TensorFlow Datasets): tqdm writes
carriage returns into pipes and files, and its rate restarts with every bar, which are the
two things this line must not do.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Mapping, TextIO

SMOOTHING = 0.1  # Weight of the newest step time in the moving average.


def format_duration(seconds: float) -> str:
    """Seconds as H:MM:SS or M:SS."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Progress of `total` steps, of which `initial` were done before (a resumed run).

    `items_per_step` turns steps into images for the rate; `label` (e.g. "epoch 3/10") and
    `values` (e.g. losses) are shown when the line has room for them.
    """

    def __init__(self, total: int, initial: int = 0, items_per_step: int = 1,
                 stream: TextIO | None = None, interval: float = 30.0,
                 redraw_every: float = 0.25):
        self.total = total
        self.done = self.initial = initial
        self.items_per_step = items_per_step
        self.stream = stream or sys.stdout
        self.interval = interval
        self.redraw_every = redraw_every
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.last_step = self.start
        self.last_draw = 0.0
        self.step_time: float | None = None  # Moving average of seconds per step.
        self.steps_timed = 0
        self.line = ""

    @property
    def rate(self) -> float:
        """Items per second, a moving average of recent steps (0 before the second step).

        The first step after the start (it includes tracing and warm-up) is not counted.
        """
        return self.items_per_step / self.step_time if self.step_time else 0.0

    def pause_ended(self) -> None:
        """Call after work that is not a step (samples, evaluation): it is left out of the rate."""
        self.last_step = time.perf_counter()

    def due(self) -> bool:
        """Whether the next `update` would print: callers read values only when it is."""
        now = time.perf_counter()
        if self.tty:
            return now - self.last_draw >= self.redraw_every
        return now - self.last_draw >= self.interval

    def width(self) -> int:
        """The line's width: the terminal's, or 80 columns."""
        return shutil.get_terminal_size((80, 24)).columns - 1 if self.tty else 79

    def update(self, done: int, label: str = "", values: Mapping[str, float] | None = None,
               force: bool = False) -> None:
        """Reports that `done` of `total` steps are finished (prints only when `due`)."""
        now = time.perf_counter()
        steps = done - self.done
        if steps > 0:
            if self.done > self.initial:  # Not the first step, which includes tracing.
                seconds = (now - self.last_step) / steps
                self.step_time = (seconds if self.step_time is None else
                                  (1 - SMOOTHING) * self.step_time + SMOOTHING * seconds)
            self.last_step = now
        self.done = done
        if not (force or done >= self.total or self.due()):
            return
        self.line = self._format(label, values or {})
        self.last_draw = now
        if self.tty:
            self.stream.write("\r" + self.line + "\033[K")
        else:
            self.stream.write(self.line + "\n")
        self.stream.flush()

    def _format(self, label: str, values: Mapping[str, float]) -> str:
        percent = 100 * self.done / max(self.total, 1)
        left = (self.total - self.done) * self.step_time if self.step_time else None
        rate = f"{self.rate:.2f} img/s" if self.step_time else "-- img/s"
        head = f"{label + ' ' if label else ''}{self.done}/{self.total} {percent:3.0f}%"
        tail = f"{rate} {format_duration(left) + ' left' if left is not None else ''}".rstrip()
        shown = " ".join(f"{k} {v:.2f}" for k, v in values.items())
        width = self.width()
        # What does not fit is dropped: first the bar, then the values.
        room = width - len(head) - len(tail) - 2
        middle = f" {shown} " if shown and len(shown) + 1 <= room else " "
        room -= len(middle) - 1
        bar_width = min(20, room - 3)
        if bar_width >= 5:
            filled = int(bar_width * self.done / max(self.total, 1))
            head = f"{head} [{'=' * filled}{'.' * (bar_width - filled)}]"
        return (head + middle + tail)[:width]

    def message(self, text: str) -> None:
        """Prints `text` on a line of its own, above the progress line on a terminal."""
        if self.tty and self.line:
            self.stream.write("\r\033[K" + text + "\n" + self.line)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self, stopped: bool = False) -> None:
        """Ends the line with the elapsed time; `stopped`: the loop ended early."""
        elapsed = format_duration(time.perf_counter() - self.start)
        state = f"stopped at {self.done}/{self.total}" if stopped else "done"
        if self.tty:
            self.stream.write("\r" + f"{self.line[:self.width() - 30]} ({state}, {elapsed})"
                              + "\033[K\n")
        else:
            self.stream.write(f"{state} in {elapsed}\n")
        self.stream.flush()
