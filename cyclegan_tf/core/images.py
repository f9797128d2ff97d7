"""The one conversion between the networks' pixels and image files' pixels.

Networks see float32 in [-1, 1]; files and serving clients see uint8 in [0, 255]. The
functions here are TensorFlow ops, so the exported graphs and the Python code share them.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from PIL import Image


def to_float(images: tf.Tensor) -> tf.Tensor:
    """uint8 [0, 255] (or float in that range) to float32 [-1, 1], as in training."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """float [-1, 1] to uint8 [0, 255], rounded and clipped."""
    images = tf.cast(images, tf.float32)
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def save_png(image: np.ndarray, path: str) -> str:
    """Writes a uint8 [H, W, 3] array as a PNG file and returns `path`."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    Image.fromarray(np.asarray(image)).save(path, format="PNG")
    return path
