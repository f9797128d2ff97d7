"""Tiled translation: images of any size in bounded memory, without seams.

The image is cut into `tile` x `tile` tiles that overlap by at least `overlap` pixels,
spread evenly so the last one ends at the border. Each tile is translated on its own
(one at a time by default, or tiles of a row in batches) and blended into the output
with a raised-cosine window that ramps up over the first `overlap` pixels of a side shared with another tile, so
neighbouring tiles fade into each other instead of meeting at a seam. Rows of tiles are
blended in a strip `tile` pixels high, and rows no later tile touches are written out, so
memory is the model's at `tile` x `tile` plus the uint8 input and output images.

Instance normalisation normalises each tile by its own statistics, so a dark tile and a
bright one are normalised differently. `image_statistics` measures the statistics of the
whole image on a downscaled pass instead, and `fixed_statistics` makes every tile use
them (for a generator in memory, computing in float32).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.images import to_float
from cyclegan_tf.inference.serving import size_rule, translate_unchecked
from cyclegan_tf.nets.layers import InstanceNormalization

TILE_STATISTICS = ("tile", "image")

Statistics = list[tuple[InstanceNormalization, tuple[tf.Tensor, tf.Tensor]]]


def check_tiling(tile: int, overlap: int) -> None:
    """Raises ValueError naming the flag unless 0 <= overlap < tile / 2 and tile >= 8."""
    if tile < 8:
        raise ValueError(f"--tile must be at least 8 pixels, got {tile}.")
    if not 0 <= overlap or 2 * overlap >= tile:
        raise ValueError(f"--overlap must be between 0 and half of --tile ({tile}) "
                         f"exclusive, got {overlap}.")


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Starts of tiles of `tile` pixels covering [0, size), neighbours overlapping by at
    least `overlap`, spread evenly, the first at 0 and the last ending at `size`."""
    if size <= tile:
        return [0]
    count = math.ceil((size - overlap) / (tile - overlap))
    return [round(i * (size - tile) / (count - 1)) for i in range(count)]


def window(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
    """A 1-D blending weight: 1, with a raised-cosine ramp over the first/last `overlap`
    pixels where `ramp_start`/`ramp_end` (a side shared with a neighbouring tile)."""
    weights = np.ones(length, np.float32)
    if overlap:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
        if ramp_start:
            weights[:overlap] = ramp
        if ramp_end:
            weights[-overlap:] = np.minimum(weights[-overlap:], ramp[::-1])
    return weights


def translate_tiled(translate_batch: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                    tile: int, overlap: int, batch_size: int = 1) -> np.ndarray:
    """Translates the uint8 [H, W, 3] `image` tile by tile (see the module docstring).

    `translate_batch` maps a uint8 [N, h, w, 3] batch to one of the same shape.
    """
    check_tiling(tile, overlap)
    height, width = image.shape[:2]
    rows, cols = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    tile_h, tile_w = min(tile, height), min(tile, width)
    output = np.empty_like(image)
    strip = np.zeros((tile_h, width, 3), np.float32)  # Weighted sums of rows [top, top+tile_h).
    weights = np.zeros((tile_h, width, 1), np.float32)
    top = 0
    for r, y in enumerate(rows):
        shift = y - top  # Rows [top, y) are final: no later tile reaches them.
        if shift:
            output[top:y] = _finish(strip[:shift], weights[:shift])
            strip = np.concatenate([strip[shift:], np.zeros_like(strip[:shift])])
            weights = np.concatenate([weights[shift:], np.zeros_like(weights[:shift])])
            top = y
        wy = window(tile_h, overlap, r > 0, r < len(rows) - 1)
        for first in range(0, len(cols), batch_size):
            xs = cols[first:first + batch_size]
            batch = np.stack([image[y:y + tile_h, x:x + tile_w] for x in xs])
            for c, (x, result) in enumerate(zip(xs, translate_batch(batch)), start=first):
                wx = window(tile_w, overlap, c > 0, c < len(cols) - 1)
                w = (wy[:, None] * wx[None, :])[..., None]
                strip[:, x:x + tile_w] += w * result.astype(np.float32)
                weights[:, x:x + tile_w] += w
    output[top:] = _finish(strip, weights)
    return output


def _finish(sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.clip(np.round(sums / weights), 0, 255).astype(np.uint8)


def image_statistics(generator: keras.Model, config: Config, image: np.ndarray,
                     size: int) -> Statistics:
    """Each instance normalisation's (mean, variance) over the whole uint8 `image`,
    measured on a copy downscaled to at most `size` pixels on its longer side."""
    height, width = image.shape[:2]
    scale = min(1.0, size / max(height, width))
    small = Image.fromarray(image).resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    layers = [layer for layer in _sublayers(generator) if isinstance(layer, InstanceNormalization)]
    for layer in layers:
        layer.record_statistics = True
    try:
        translate_unchecked(generator, to_float(tf.constant(np.asarray(small)[None])),
                            size_rule(config))
        return [(layer, layer.recorded_statistics) for layer in layers]
    finally:
        for layer in layers:
            layer.record_statistics, layer.recorded_statistics = False, None


@contextlib.contextmanager
def fixed_statistics(statistics: Statistics) -> Iterator[None]:
    """Within the block, the generator's instance normalisations use `statistics` (from
    `image_statistics`) instead of each input's own. Call the generator eagerly inside:
    a `tf.function` traced earlier would keep the statistics it was traced with."""
    for layer, values in statistics:
        layer.fixed_statistics = values
    try:
        yield
    finally:
        for layer, _ in statistics:
            layer.fixed_statistics = None


def _sublayers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _sublayers(layer)
