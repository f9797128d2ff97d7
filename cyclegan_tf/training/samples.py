"""Sample grids: what the generators make of a fixed batch of test images.

A grid has a header band naming its columns (A, G(A), F(G(A)), B, F(B), G(F(B))) and a
caption (the step and epoch), then one row per test pair.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

from cyclegan_tf.core.images import to_uint8

Translate = Callable[[tf.Tensor, str], tf.Tensor]

COLUMNS = ("A", "G(A)", "F(G(A))", "B", "F(B)", "G(F(B))")


def _header(width: int, cell: int, caption: str) -> np.ndarray:
    """A white band with each column's name centred over it and `caption` at the left."""
    size = max(10, min(16, cell // 6))
    font = ImageFont.load_default(size=size)
    rows = 2 if caption else 1
    band = Image.new("RGB", (width, rows * (size + 6)), "white")
    draw = ImageDraw.Draw(band)
    if caption:
        draw.text((4, 2), caption, fill="black", font=font)
    top = (rows - 1) * (size + 6) + 2
    for index, name in enumerate(COLUMNS):
        text_width = draw.textlength(name, font=font)
        draw.text((index * cell + (cell - text_width) / 2, top), name, fill="black", font=font)
    return np.asarray(band)


def sample_grid(translate: Translate, test_a: tf.Tensor, test_b: tf.Tensor,
                caption: str = "") -> np.ndarray:
    """One uint8 image: the column header, then a row per test pair (see the module doc).

    `translate(images, direction)` runs a generator ('a2b' is G, 'b2a' is F).
    """
    count = min(len(test_a), len(test_b))
    test_a, test_b = test_a[:count], test_b[:count]
    fake_b = translate(test_a, "a2b")
    fake_a = translate(test_b, "b2a")
    columns = [test_a, fake_b, translate(fake_b, "b2a"), test_b, fake_a, translate(fake_a, "a2b")]
    rows = np.concatenate([to_uint8(c).numpy() for c in columns], axis=2)  # [N, H, 6W, 3]
    body = np.concatenate(list(rows), axis=0)  # [N*H, 6W, 3]
    header = _header(body.shape[1], body.shape[1] // len(COLUMNS), caption)
    return np.concatenate([header, body], axis=0)
