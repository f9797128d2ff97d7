"""Levels transfer: each domain's black and white points, and the map between them.

A photo editor's levels tool stretches an image so that its darkest and lightest tones land
on chosen values. `--levels_transfer` does this between the two training domains before
training: per colour channel, the map that takes domain A's black and white points to
domain B's starts generator G, and its inverse starts F. Unlike matching the domains' mean
colours (which follow their subjects: a folder of night scenes is darker than a folder of
beaches), the end points of the tone range describe the medium (paper that is never black,
washed-out pastels, a print's white), so they transfer between folders of different subjects.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.losses import block_average
from cyclegan_tf.data.pipeline import ImageSource, normalize

LEVELS_IMAGES = 200  # images per domain that are read (evenly spaced)
PERCENTILES = (0.5, 99.5)  # the black and white points
MIN_SPAN = 0.1  # the smallest tone range (in [-1, 1] units) a channel is stretched from


def black_and_white_points(source: ImageSource, config: Config,
                           count: int = LEVELS_IMAGES) -> np.ndarray:
    """A domain's black and white points: [2, 3] float64 in [-1, 1], per RGB channel.

    Reads up to `count` images of `source` (evenly spaced), resizes each to --image_size
    and averages it over blocks of 1/16 of that size (the colour loss's pools), so that thin
    details such as drawn outlines do not set the points. The points are the
    `PERCENTILES` of those block colours.
    """
    size = config.image_size
    decode = source.decode

    def block_colours(element: tf.Tensor) -> tf.Tensor:
        image = tf.image.resize(decode(element), [size, size], method=config.resize_method)
        return tf.reshape(block_average(normalize(image)[None], size), [-1, 3])

    every = max(1, source.length // count)
    colours = (source.elements.shard(every, 0).take(count)
               .map(block_colours, num_parallel_calls=tf.data.AUTOTUNE))
    pixels = np.concatenate(list(colours.as_numpy_iterator()))
    return np.percentile(pixels.astype(np.float64), PERCENTILES, axis=0)


def levels_map(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel `(scale, offset)` with `source * scale + offset == target` at the black
    and white points ([2, 3] arrays from `black_and_white_points`). A channel whose source
    range is under `MIN_SPAN` (a near-constant folder) is stretched as if it were that wide."""
    span = np.maximum(source[1] - source[0], MIN_SPAN)
    scale = (target[1] - target[0]) / span
    return scale, target[0] - source[0] * scale


def describe(points: np.ndarray) -> str:
    """Black and white points as 0-255 RGB values, for progress output."""
    black, white = (np.round((p + 1.0) * 127.5).astype(int).tolist() for p in points)
    return f"black {tuple(black)}, white {tuple(white)}"
