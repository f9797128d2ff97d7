"""TensorBoard profiles of chosen training steps (`--profile_steps=A,B`).

The profile lands in the run's `logs/` folder, under `plugins/profile/`, where
TensorBoard's Profile tab (the `tensorboard-plugin-profile` package) shows it.
"""

from __future__ import annotations

import tensorflow as tf


class StepProfiler:
    """Profiles global steps `first`..`last` (1-based, as logged) of a training loop.

    Call `before_step(step)` with the number of the step about to run and `after_step(step)`
    with the number of the step just done; `close()` stops a profile still running.
    """

    def __init__(self, steps: tuple[int, int] | None, logdir: str):
        self.steps = steps
        self.logdir = logdir
        self.active = False

    def before_step(self, step: int) -> None:
        """Starts the profiler if `step` is the first profiled step."""
        if self.steps and not self.active and self.steps[0] <= step <= self.steps[1]:
            tf.profiler.experimental.start(self.logdir)
            self.active = True

    def after_step(self, step: int) -> None:
        """Stops the profiler once the last profiled step is done."""
        if self.active and step >= self.steps[1]:
            self.close()

    def close(self) -> None:
        """Stops and writes the profile, if one is running."""
        if self.active:
            tf.profiler.experimental.stop()
            self.active = False
