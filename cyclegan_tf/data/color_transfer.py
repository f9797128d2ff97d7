"""Colour transfer between the two training folders, measured before training.

`--color_transfer` puts a fixed colour map in front of each generator, so that training
starts from it instead of the plain input. It is built from statistics of each folder's
large-scale colours (1/16-size block averages of up to 200 evenly spaced images, so that
thin details such as drawn outlines do not count), in two steps:

- **levels**: per channel, the map that takes the input domain's black and white points
  (0.5th and 99.5th percentiles) to the other domain's, like a photo editor's levels tool.
  Unlike matching mean colours (which follow the subjects: a folder of night scenes is
  darker than a folder of beaches), the ends of the tone range describe the medium (paper
  that is never black, washed-out pastels, a print's white), so they transfer between
  folders of different subjects.
- **tone** (levels, then this): the target folder's colours are described as a tone ramp
  (their mean colour as a linear function of luminance) plus a spread of chroma around it.
  The levelled input keeps the fraction `sqrt(target spread / levelled input spread)` (at
  most 1) of its own distance from the ramp and takes the ramp's colour for the rest. A
  monochrome medium (ink, sepia, a blueprint) has almost no spread, so photos become
  tinted greys on its ramp; a colourful medium keeps the input's colours.

Both are affine in the colour, so the generator's map is a 3x3 matrix and an offset.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.losses import LUMA, block_average
from cyclegan_tf.data.pipeline import ImageSource, normalize

STATISTICS_IMAGES = 200  # images per domain that are read (evenly spaced)
PERCENTILES = (0.5, 99.5)  # the black and white points
MIN_SPAN = 0.1  # the smallest tone range (in [-1, 1] units) a channel is stretched from
# A chroma spread (squared, [-1, 1] units) below this is rounding noise: a folder of greys.
# One level of 255 is 0.0078 in these units (6e-5 squared): no real folder comes near it.
NO_CHROMA = 1e-9
_LUMA = np.array(LUMA)


@dataclasses.dataclass(frozen=True)
class ColourStatistics:
    """A folder's large-scale colours, in [-1, 1] units (float64).

    Attributes:
        points: [2, 3] black and white points per RGB channel.
        mean: [3] mean colour.
        covariance: [3, 3] colour covariance.
    """

    points: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray

    @classmethod
    def of_colours(cls, colours: np.ndarray) -> ColourStatistics:
        """The statistics of `colours`, [N, 3] in [-1, 1]."""
        colours = np.asarray(colours, np.float64)
        return cls(np.percentile(colours, PERCENTILES, axis=0), colours.mean(axis=0),
                   np.cov(colours.T, bias=True))

    def tone_ramp(self) -> tuple[np.ndarray, np.ndarray]:
        """`(base, slope)`, [3] each: the least-squares fit `colour = base + slope * luminance`."""
        slope = self.covariance @ _LUMA / _luminance_variance(self.covariance)
        return self.mean - slope * float(_LUMA @ self.mean), slope

    def chroma_spread(self) -> float:
        """The mean squared distance of the colours from their tone ramp (summed over RGB)."""
        return _chroma_spread(self.covariance)


def _luminance_variance(covariance: np.ndarray) -> float:
    return max(float(_LUMA @ covariance @ _LUMA), 1e-12)


def _chroma_spread(covariance: np.ndarray) -> float:
    along = covariance @ _LUMA  # each channel's covariance with luminance
    return max(float(np.trace(covariance) - along @ along / _luminance_variance(covariance)),
               0.0)


@dataclasses.dataclass(frozen=True)
class ColourMap:
    """`colour @ matrix.T + offset` in [-1, 1] units, and how much chroma it keeps.

    Attributes:
        matrix: [3, 3].
        offset: [3].
        chroma_kept: The fraction of the levelled input's distance from the target's tone
            ramp that is kept (1 for the levels transfer).
    """

    matrix: np.ndarray
    offset: np.ndarray
    chroma_kept: float = 1.0

    def apply(self, colours: np.ndarray) -> np.ndarray:
        """The map on colours [..., 3] in [-1, 1]."""
        return colours @ self.matrix.T + self.offset


def colour_statistics(source: ImageSource, config: Config,
                      count: int = STATISTICS_IMAGES) -> ColourStatistics:
    """The statistics of up to `count` images of `source` (evenly spaced), each resized to
    --image_size and averaged over blocks of 1/16 of that size (`losses.block_average`)."""
    size = config.image_size
    decode = source.decode

    def block_colours(element: tf.Tensor) -> tf.Tensor:
        image = tf.image.resize(decode(element), [size, size], method=config.resize_method)
        return tf.reshape(block_average(normalize(image)[None], size), [-1, 3])

    every = max(1, source.length // count)
    colours = (source.elements.shard(every, 0).take(count)
               .map(block_colours, num_parallel_calls=tf.data.AUTOTUNE))
    return ColourStatistics.of_colours(np.concatenate(list(colours.as_numpy_iterator())))


def levels_map(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel `(scale, offset)` with `source * scale + offset == target` at the black
    and white points ([2, 3] arrays, `ColourStatistics.points`). A channel whose source
    range is under `MIN_SPAN` (a near-constant folder) is stretched as if it were that wide."""
    span = np.maximum(source[1] - source[0], MIN_SPAN)
    scale = (target[1] - target[0]) / span
    return scale, target[0] - source[0] * scale


def transfer_map(source: ColourStatistics, target: ColourStatistics, mode: str) -> ColourMap:
    """The `--color_transfer` map (`mode` 'levels' or 'tone') from `source`'s colours to
    `target`'s (see the module docstring)."""
    scale, offset = levels_map(source.points, target.points)
    levels = ColourMap(np.diag(scale), offset)
    if mode == "levels":
        return levels
    if mode != "tone":
        raise ValueError(f"unknown colour transfer {mode!r}; expected 'levels' or 'tone'.")
    levelled_spread = _chroma_spread(levels.matrix @ source.covariance @ levels.matrix.T)
    target_spread = target.chroma_spread()
    # Spreads at rounding-noise level are zero: their ratio would be the CPU's rounding.
    if target_spread < NO_CHROMA:
        kept = 0.0  # a grey medium: every input colour goes to its ramp
    elif levelled_spread < NO_CHROMA:
        kept = 1.0  # grey inputs: nothing to scale
    else:
        kept = min(1.0, float(np.sqrt(target_spread / levelled_spread)))
    base, slope = target.tone_ramp()
    # ramp(y) + kept * (x - ramp(y)) with y = LUMA . x, applied after the levels.
    blend = kept * np.eye(3) + (1.0 - kept) * np.outer(slope, _LUMA)
    return ColourMap(blend @ levels.matrix, blend @ levels.offset + (1.0 - kept) * base, kept)


def _rgb(colour: np.ndarray) -> tuple[int, ...]:
    return tuple(np.round((np.clip(colour, -1.0, 1.0) + 1.0) * 127.5).astype(int).tolist())


def describe(statistics: ColourStatistics) -> str:
    """Black and white points, the tone ramp's ends and the chroma spread, as 0-255 RGB
    values, for progress output."""
    base, slope = statistics.tone_ramp()
    black, white = statistics.points
    return (f"black {_rgb(black)}, white {_rgb(white)}; tone ramp from {_rgb(base - slope)} "
            f"to {_rgb(base + slope)}, chroma spread {np.sqrt(statistics.chroma_spread()):.3f}")
