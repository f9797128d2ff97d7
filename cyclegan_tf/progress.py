"""A terminal progress bar for long loops: step, values, images/s and time left."""

from __future__ import annotations

import sys
import time
from typing import Mapping, TextIO


def format_duration(seconds: float) -> str:
    """Seconds as H:MM:SS or M:SS."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Redraws one line on a terminal; elsewhere (logs, CI) prints a line every `interval` s.

    `items_per_step` turns steps into images for the images/s figure.
    """

    def __init__(self, total: int, prefix: str = "", items_per_step: int = 1,
                 stream: TextIO | None = None, interval: float = 15.0, width: int = 24):
        self.total = total
        self.prefix = prefix
        self.items_per_step = items_per_step
        self.stream = stream or sys.stderr
        self.interval = interval
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.first_done = None  # Time of the first finished step: excludes tracing from rates.
        self.first_count = 0
        self.last_print = 0.0
        self.done = 0
        self.line = ""

    def rate(self, done: int) -> float:
        """Items per second since the first step (which includes tracing) finished."""
        if self.first_done is None or done <= self.first_count:
            return 0.0
        elapsed = time.perf_counter() - self.first_done
        return (done - self.first_count) * self.items_per_step / max(elapsed, 1e-9)

    def update(self, done: int, values: Mapping[str, float] | None = None) -> None:
        """Reports that `done` of `total` steps are finished."""
        now = time.perf_counter()
        self.done = done
        if self.first_done is None:
            self.first_done, self.first_count = now, done
        rate = self.rate(done)
        left = (self.total - done) * self.items_per_step / rate if rate else 0.0
        filled = int(self.width * done / max(self.total, 1))
        bar = "=" * filled + (">" if filled < self.width else "") + "." * (self.width - filled - 1)
        shown = " ".join(f"{k} {v:.3f}" for k, v in (values or {}).items())
        self.line = (f"{self.prefix} [{bar[:self.width]}] {done}/{self.total} {shown} "
                     f"{rate:.2f} img/s left {format_duration(left)}")
        if self.tty:
            self.stream.write("\r" + self.line + "\033[K")
            self.stream.flush()
        elif done == self.total or now - self.last_print >= self.interval:
            self.stream.write(self.line + "\n")
            self.stream.flush()
            self.last_print = now

    def close(self, stopped: bool = False) -> None:
        """Ends the bar's line, with the elapsed time; `stopped`: the loop ended early."""
        elapsed = format_duration(time.perf_counter() - self.start)
        if self.tty:
            self.stream.write(f"\r{self.line} ({'stopped, ' if stopped else ''}{elapsed})\033[K\n")
        elif stopped:
            self.stream.write(f"{self.prefix} stopped at {self.done}/{self.total} after {elapsed}\n")
        else:
            self.stream.write(f"{self.prefix} done in {elapsed}\n")
        self.stream.flush()
