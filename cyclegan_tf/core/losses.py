"""CycleGAN's losses as small pure functions of tensors.

All of them compute in float32, whatever precision the networks ran in.
"""

from __future__ import annotations

import tensorflow as tf


def _f32(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(x, tf.float32)


def _adversarial(logits: tf.Tensor, target: float, gan_loss: str) -> tf.Tensor:
    logits = _f32(logits)
    labels = tf.fill(tf.shape(logits), target)
    if gan_loss == "vanilla":  # Binary cross-entropy from logits (the TF tutorial).
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
    if gan_loss == "lsgan":  # Mean squared error (the CycleGAN paper).
        return tf.reduce_mean(tf.square(logits - labels))
    raise ValueError(f"--gan_loss={gan_loss!r} is not one of vanilla, lsgan.")


def generator_loss(fake_logits: tf.Tensor, gan_loss: str) -> tf.Tensor:
    """Adversarial loss of a generator: its fakes should be judged real."""
    return _adversarial(fake_logits, 1.0, gan_loss)


def discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor, gan_loss: str) -> tf.Tensor:
    """Half the sum of the real and fake terms, as in the paper and the tutorial."""
    return 0.5 * (_adversarial(real_logits, 1.0, gan_loss) + _adversarial(fake_logits, 0.0, gan_loss))


def l1(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference: the cycle-consistency and identity losses before weighting."""
    return tf.reduce_mean(tf.abs(_f32(a) - _f32(b)))


LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luminance weights
COLOUR_BLOCKS = 16  # the colour losses compare images averaged over 1/16-size blocks


def block_average(images: tf.Tensor, image_size: int) -> tf.Tensor:
    """`images` [N, H, W, C] averaged over square blocks of 1/`COLOUR_BLOCKS` of
    `image_size` (float32): their large-scale colours, as the colour losses and the levels
    transfer see them."""
    window = max(1, image_size // COLOUR_BLOCKS)
    return tf.nn.avg_pool2d(_f32(images), window, window, "VALID")


def luminance_l1(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference of the two images' luminance (BT.601): tone only, any
    change of colour at equal luminance is free."""
    weights = tf.constant(LUMA, tf.float32)
    return tf.reduce_mean(tf.abs(tf.tensordot(_f32(a) - _f32(b), weights, 1)))


def hue_shift(source: tf.Tensor, translated: tf.Tensor) -> tf.Tensor:
    """Mean L1 size of the translated colour that is not a paler copy of the source's colour.

    Each pixel's chroma is its RGB minus its channel mean. The translated chroma is projected
    onto the source's, with the scale clipped to [0, 1]; what is left (a turn of hue, or more
    saturation than the source had) is the loss. Brightness and desaturation cost nothing.
    """
    def chroma(x: tf.Tensor) -> tf.Tensor:
        x = _f32(x)
        return x - tf.reduce_mean(x, axis=-1, keepdims=True)

    c_in, c_out = chroma(source), chroma(translated)
    dot = tf.reduce_sum(c_in * c_out, axis=-1, keepdims=True)
    norm = tf.reduce_sum(tf.square(c_in), axis=-1, keepdims=True)
    scale = tf.clip_by_value(tf.math.divide_no_nan(dot, norm), 0.0, 1.0)
    return tf.reduce_mean(tf.abs(c_out - tf.stop_gradient(scale) * c_in))
