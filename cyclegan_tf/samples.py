"""Sample grids: what the generators make of a fixed batch of test images."""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf
from PIL import Image

Translate = Callable[[tf.Tensor, str], tf.Tensor]

COLUMNS = ("A", "G(A)", "F(G(A))", "B", "F(B)", "G(F(B))")


def to_uint8(images: tf.Tensor) -> np.ndarray:
    """Images in [-1, 1] to uint8 in [0, 255]."""
    images = tf.cast(images, tf.float32)
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0, 255)), tf.uint8).numpy()


def sample_grid(translate: Translate, test_a: tf.Tensor, test_b: tf.Tensor) -> np.ndarray:
    """One uint8 image: a row per test pair, columns A, G(A), F(G(A)), B, F(B), G(F(B)).

    `translate(images, direction)` runs a generator ('a2b' is G, 'b2a' is F).
    """
    count = min(len(test_a), len(test_b))
    test_a, test_b = test_a[:count], test_b[:count]
    fake_b = translate(test_a, "a2b")
    fake_a = translate(test_b, "b2a")
    columns = [test_a, fake_b, translate(fake_b, "b2a"), test_b, fake_a, translate(fake_a, "a2b")]
    rows = np.concatenate([to_uint8(c) for c in columns], axis=2)  # [N, H, 6W, 3]
    return np.concatenate(list(rows), axis=0)  # [N*H, 6W, 3]


def save_png(image: np.ndarray, path: str) -> None:
    """Writes a uint8 [H, W, 3] array as a PNG file."""
    Image.fromarray(image).save(path)
