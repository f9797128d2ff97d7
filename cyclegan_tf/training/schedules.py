"""The learning-rate schedule as a pure function of the global step.

Because it depends only on the step saved in the checkpoint, a resumed run continues the
schedule exactly where it stopped.
"""

from __future__ import annotations

import tensorflow as tf

from cyclegan_tf.core.configs import Config


class LearningRate:
    """`constant`, or `linear`: constant for `epochs - decay_epochs` epochs, then a linear
    decay that reaches zero at the end of the last epoch (per step, not per epoch)."""

    def __init__(self, config: Config, steps_per_epoch: int):
        self.base = config.lr
        self.total_steps = config.epochs * steps_per_epoch
        decay_epochs = config.decay_epochs if config.lr_schedule == "linear" else 0
        self.decay_steps = decay_epochs * steps_per_epoch

    def __call__(self, step: tf.Tensor | int) -> tf.Tensor:
        """The learning rate for the update made at global step `step` (0-based)."""
        step = tf.cast(step, tf.float32)
        if self.decay_steps == 0:
            return tf.constant(self.base, tf.float32) + 0.0 * step
        remaining = tf.cast(self.total_steps, tf.float32) - step
        fraction = tf.clip_by_value(remaining / float(self.decay_steps), 0.0, 1.0)
        return self.base * fraction
