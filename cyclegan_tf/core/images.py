"""The one conversion between the networks' pixels and image files' pixels.

Networks see float32 in [-1, 1]; files and serving clients see uint8 in [0, 255]. The
functions here are TensorFlow ops, so the exported graphs and the Python code share them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

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
    """Writes a uint8 [H, W, 3] array as a PNG file and returns `path`.

    The file is written beside `path` and renamed onto it: a reader never sees half a
    file, and a symbolic link at `path` is replaced, never followed.
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(np.asarray(image)).save(f, format="PNG")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    return path
