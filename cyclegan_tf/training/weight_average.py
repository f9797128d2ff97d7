"""An exponential moving average of a network's weights (as in progressive GANs and StyleGAN).

The average of the generator's recent weights is smoother than any one of them: GAN
training oscillates, and the average sits near the centre of the oscillation. The
`average` model is a second copy of the network; the trainer updates it after every step
and uses it for samples, evaluation and export, and the checkpoint holds it, so a resumed
run continues the same average.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class WeightAverage:
    """Keeps `average`, a model like `model` whose weights follow `model`'s.

    The decay ramps up as min(decay, (1 + t) / (10 + t)) over the updates t (as
    `tf.train.ExponentialMovingAverage` with `num_updates`), so early on the average
    follows the fast-changing weights instead of remembering their random start.
    """

    def __init__(self, model: keras.Model, average: keras.Model, decay: float):
        self.model, self.average, self.decay = model, average, decay
        # Only float weights are averaged (not, e.g., dropout's integer random state).
        self.pairs = [(target, source) for target, source in zip(average.weights, model.weights)
                      if "float" in str(source.dtype)]
        for target, source in self.pairs:
            target.assign(source)

    def update(self, step: tf.Tensor) -> None:
        """Moves the average towards the model's current weights (`step`: updates so far)."""
        t = tf.cast(step, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + t) / (10.0 + t))
        for target, source in self.pairs:
            target.assign(decay * target + (1.0 - decay) * tf.cast(source, target.dtype))
