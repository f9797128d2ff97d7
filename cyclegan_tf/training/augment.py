"""Differentiable augmentation of the discriminators' inputs (DiffAugment, Zhao et al. 2020).

With few training images a discriminator memorises them and stops teaching the generator.
Augmenting every image it sees, real and fake alike, by the same random transformations
(and letting the generators' gradients flow through them) keeps it honest. The random
numbers come from a `tf.random.Generator` that the checkpoint holds, so a resumed run
draws the same augmentations as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def _color(images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
    """Random brightness (+-0.5), saturation (x 0..2) and contrast (x 0.5..1.5) per image,
    on images in [-1, 1] (the DiffAugment paper's ranges)."""
    batch = tf.shape(images)[0]
    images = images + (rng.uniform([batch, 1, 1, 1], dtype=images.dtype) - 0.5)
    mean = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - mean) * (rng.uniform([batch, 1, 1, 1], dtype=images.dtype) * 2) + mean
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * (rng.uniform([batch, 1, 1, 1], dtype=images.dtype) + 0.5) + mean


def _translation(images: tf.Tensor, rng: tf.random.Generator, ratio: float = 0.125) -> tf.Tensor:
    """Shifts the batch by up to `ratio` of its size in each direction, filling with zeros."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    pad_h = tf.cast(tf.cast(height, tf.float32) * ratio + 0.5, tf.int32)
    pad_w = tf.cast(tf.cast(width, tf.float32) * ratio + 0.5, tf.int32)
    padded = tf.pad(images, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]])
    top = rng.uniform([], 0, 2 * pad_h + 1, dtype=tf.int32)
    left = rng.uniform([], 0, 2 * pad_w + 1, dtype=tf.int32)
    return tf.slice(padded, [0, top, left, 0], tf.shape(images))


def _cutout(images: tf.Tensor, rng: tf.random.Generator, ratio: float = 0.5) -> tf.Tensor:
    """Zeroes a random square of `ratio` of the size in each image."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    size_h = tf.cast(tf.cast(height, tf.float32) * ratio + 0.5, tf.int32)
    size_w = tf.cast(tf.cast(width, tf.float32) * ratio + 0.5, tf.int32)
    top = rng.uniform([batch, 1, 1], 0, height - size_h + 1, dtype=tf.int32)
    left = rng.uniform([batch, 1, 1], 0, width - size_w + 1, dtype=tf.int32)
    rows = tf.range(height)[None, :, None]
    columns = tf.range(width)[None, None, :]
    inside = ((rows >= top) & (rows < top + size_h)
              & (columns >= left) & (columns < left + size_w))  # (N, H, W)
    return images * tf.cast(~inside, images.dtype)[..., None]


POLICIES = {"color": _color, "translation": _translation, "cutout": _cutout}


def augment(images: tf.Tensor, policies: Sequence[str], rng: tf.random.Generator) -> tf.Tensor:
    """`images` ([N, H, W, C] in [-1, 1]) through each of `policies` in turn
    (names of `POLICIES`); differentiable with respect to `images`."""
    for name in policies:
        images = POLICIES[name](images, rng)
    return images
