"""The progress line: whole-run progress, a steady rate, 80 columns, plain lines in logs."""

import io
import os

from cyclegan_tf.core import progress
from cyclegan_tf.core.progress import ProgressBar, format_duration


def test_format_duration():
    assert format_duration(59.9) == "0:59"
    assert format_duration(3 * 3600 + 62) == "3:01:02"
    assert format_duration(-5) == "0:00"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_is_steady_never_zero_after_warm_up_and_ignores_pauses(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    bar = ProgressBar(100, initial=10, items_per_step=2, stream=io.StringIO(), interval=1e9)
    clock.now += 30.0  # The first step: tracing, not counted.
    bar.update(11)
    assert bar.rate == 0.0
    for step in range(12, 30):
        clock.now += 0.5
        bar.update(step)
    assert abs(bar.rate - 4.0) < 1e-6  # 2 images per 0.5 s step.
    clock.now += 60.0  # Samples and evaluation between epochs...
    bar.pause_ended()  # ...are left out.
    clock.now += 0.5
    bar.update(30)
    assert abs(bar.rate - 4.0) < 1e-6


def test_log_lines_are_plain_periodic_and_fit_80_columns(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    stream = io.StringIO()
    bar = ProgressBar(900, initial=0, stream=stream, interval=30.0)
    values = {"G": 12.3456, "F": 11.0, "DX": 0.693, "DY": 0.7}
    for step in range(1, 121):
        clock.now += 1.0
        bar.update(step, "epoch 3/10", values)
    bar.close(stopped=True)
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert len(lines) == 5  # Every 30 s over 120 s, then the end.
    # At 80 columns the bar gives way to the losses.
    assert lines[-2].startswith("epoch 3/10 91/900  10% G 12.35 F 11.00 DX 0.69 DY 0.70 ")
    assert "1.00 img/s" in lines[-2] and "13:29 left" in lines[-2]
    assert lines[-1].startswith("stopped at 120/900 in ")


def test_terminal_line_is_redrawn_in_place_within_the_width(monkeypatch):
    stream = io.StringIO()
    stream.isatty = lambda: True
    monkeypatch.setattr(progress.shutil, "get_terminal_size", lambda default: os.terminal_size((60, 24)))
    bar = ProgressBar(10, stream=stream, redraw_every=0.0)
    bar.update(1, "epoch 1/1", {"G": 1.0, "F": 2.0, "DX": 3.0, "DY": 4.0})
    bar.message("Epoch 1/1 done.")
    bar.close()
    drawn = [part.split("\033[K")[0] for part in stream.getvalue().split("\r") if part]
    assert all(len(line) <= 59 for line in drawn)
    assert "Epoch 1/1 done.\n" in stream.getvalue()
