"""The serving graph: what an exported generator computes, in TensorFlow ops only.

Every entry point takes images of any height and width >= 1: they are padded by
reflection to the next size the generator accepts (`size_rule`, from the generator's spec:
multiples of 2^depth for the UNet, of 4 for the others, and at least 8 for the ResNet),
translated in inference mode, and cropped back, so the output has the input's size.
Where the padding exceeds what one reflection provides (tiny images, or a UNet needing
much larger multiples), the reflection repeats, as numpy's `np.pad(mode="reflect")`
does; images are never resized. The ops used have the same meaning in every runtime
(no floor-modulo of negative numbers, whose sign rules differ between runtimes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import tensorflow as tf

from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.images import to_float, to_uint8
from cyclegan_tf.data.pipeline import decode_image

SIGNATURES = ("serving_default", "translate_bytes", "translate_float")
# The most pixels (height x width) of one image a model takes unless set at export: a
# small compressed file can declare a huge image (a "decompression bomb"), and the
# generator's activations need several KB per pixel.
DEFAULT_MAX_PIXELS = 4096 * 4096


class SizeRule(NamedTuple):
    """The heights and widths a generator takes: multiples of `multiple`, at least `minimum`."""

    multiple: int
    minimum: int


def size_rule(config: Config) -> SizeRule:
    """What inputs are padded to for the generator `config` describes (see `GeneratorSpec`)."""
    spec = config.generator_spec
    multiple = spec.size_multiple(config.image_size)
    return SizeRule(multiple, max(spec.min_size, multiple))


def _pixel_limit_message(max_pixels: int) -> str:
    return (f"image has more pixels (height x width) than this model's limit of {max_pixels} "
            "(set with cyclegan_tf.export --max_pixels); downscale it first")


def check_images(images: tf.Tensor, max_pixels: int = DEFAULT_MAX_PIXELS) -> tf.Tensor:
    """`images` after runtime checks that they are a non-empty [N, H, W, 3] batch of
    images of at most `max_pixels` pixels each.

    `ensure_shape` stays a runtime check even where the shape is known while tracing: TF
    Serving does not check fed shapes, and a rank-3 input would crash the convolution.
    """
    images = tf.ensure_shape(images, [None, None, None, 3])
    shape = tf.shape(images, out_type=tf.int64)
    not_empty = tf.debugging.assert_positive(
        shape[:3], message="images must be a batch of at least one image of at least 1x1 pixel")
    small_enough = tf.debugging.assert_less_equal(
        shape[1] * shape[2], tf.constant(max_pixels, tf.int64),
        message=_pixel_limit_message(max_pixels))
    with tf.control_dependencies([not_empty, small_enough]):
        return tf.identity(images)


def _unsigned(data: tf.Tensor, offset: int, length: int, big_endian: bool) -> tf.Tensor:
    """The unsigned integer in bytes [offset, offset + length) of the string `data`, int64."""
    digits = tf.cast(tf.io.decode_raw(tf.strings.substr(data, offset, length), tf.uint8),
                     tf.int64)
    weights = tf.constant([256 ** i for i in range(length)], tf.int64)
    return tf.reduce_sum(digits * (weights[::-1] if big_endian else weights))


def encoded_pixels(contents: tf.Tensor) -> tf.Tensor:
    """Height x width that the header of an encoded PNG, JPEG, GIF or BMP image declares,
    as int64, read without decoding; 0 for data too short or of another format (the
    decoder then reports it)."""
    padded = tf.strings.join([contents, tf.constant(b"\0" * 26)])  # Room for every header.
    start = tf.strings.substr(padded, 0, 4)

    def png() -> tf.Tensor:
        return _unsigned(padded, 16, 4, True) * _unsigned(padded, 20, 4, True)

    def gif() -> tf.Tensor:
        return _unsigned(padded, 6, 2, False) * _unsigned(padded, 8, 2, False)

    def bmp() -> tf.Tensor:
        # The height is signed (negative: stored top-down); the width is positive.
        height = _unsigned(padded, 22, 4, False)
        height = tf.where(height >= 2 ** 31, 2 ** 32 - height, height)
        return _unsigned(padded, 18, 4, False) * height

    def jpeg() -> tf.Tensor:
        shape = tf.cast(tf.image.extract_jpeg_shape(contents), tf.int64)
        return shape[0] * shape[1]

    return tf.case([
        (tf.equal(start, b"\x89PNG"), png),
        (tf.equal(tf.strings.substr(start, 0, 3), b"GIF"), gif),
        (tf.equal(tf.strings.substr(start, 0, 2), b"BM"), bmp),
        (tf.equal(tf.strings.substr(start, 0, 3), b"\xff\xd8\xff"), jpeg),
    ], default=lambda: tf.constant(0, tf.int64))


def _mirror_indices(size: tf.Tensor, before: tf.Tensor, after: tf.Tensor) -> tf.Tensor:
    """Indices along an axis of `size` that pad it by reflection, repeated as needed.

    Equal to `tf.pad(mode="REFLECT")` when the padding is smaller than `size`; beyond that
    the reflection continues back and forth, like `np.pad(mode="reflect")`. A size-1 axis
    repeats its one pixel.
    """
    period = tf.maximum(2 * (size - 1), 1)
    # Shifted by whole periods to be non-negative: the modulo of a negative number is
    # floored in TensorFlow but truncated in ONNX, so it is never taken.
    shift = (before // period + 1) * period
    folded = tf.math.floormod(tf.range(-before, size + after) + shift, period)
    return tf.minimum(folded, period - folded)


def _padding(size: tf.Tensor, multiple: int, minimum: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(before, after) that pad `size` to a multiple of `multiple` >= `minimum`, split evenly."""
    total = tf.maximum((size + multiple - 1) // multiple * multiple, minimum) - size
    before = total // 2
    return before, total - before


def translate_unchecked(generator: keras.Model, images: tf.Tensor, sizes: SizeRule) -> tf.Tensor:
    """Float images in [-1, 1] of any size: pad, run in inference mode, crop; no checks
    (the portable exports' graph, whose runtimes cannot run assertions)."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    top, bottom = _padding(height, *sizes)
    left, right = _padding(width, *sizes)
    padded = tf.gather(images, _mirror_indices(height, top, bottom), axis=1)
    padded = tf.gather(padded, _mirror_indices(width, left, right), axis=2)
    outputs = tf.cast(generator(padded, training=False), tf.float32)
    return outputs[:, top:top + height, left:left + width, :]


def translate_float_images(generator: keras.Model, images: tf.Tensor,
                           sizes: SizeRule, max_pixels: int = DEFAULT_MAX_PIXELS) -> tf.Tensor:
    """Translates a float32 batch in [-1, 1] of any size to one of the same size.

    Height and width are padded by reflection to what the generator takes (`sizes`, see
    `size_rule`) and the result cropped back.
    """
    return translate_unchecked(generator, check_images(images, max_pixels), sizes)


def translate_uint8_images(generator: keras.Model, images: tf.Tensor,
                           sizes: SizeRule, max_pixels: int = DEFAULT_MAX_PIXELS) -> tf.Tensor:
    """Translates a uint8 batch of any size to a uint8 batch of the same size."""
    images = to_float(check_images(images, max_pixels))
    return to_uint8(translate_unchecked(generator, images, sizes))


def translate_encoded_images(generator: keras.Model, contents: tf.Tensor, sizes: SizeRule,
                             background: Sequence[int] = (255, 255, 255),
                             max_pixels: int = DEFAULT_MAX_PIXELS) -> tf.Tensor:
    """Translates a [N] batch of encoded images to PNG strings, each at its own size.

    Decoding follows training: grayscale becomes RGB, transparency is composited onto
    `background`, a GIF gives its first frame. An image whose header declares more than
    `max_pixels` pixels is refused before it is decoded.
    """

    def translate_one(encoded: tf.Tensor) -> tf.Tensor:
        small_enough = tf.debugging.assert_less_equal(
            encoded_pixels(encoded), tf.constant(max_pixels, tf.int64),
            message=_pixel_limit_message(max_pixels))
        with tf.control_dependencies([small_enough]):
            image = tf.ensure_shape(decode_image(encoded, background), [None, None, 3])
        translated = translate_unchecked(generator, to_float(image)[None], sizes)
        return tf.io.encode_png(to_uint8(translated)[0])

    return tf.map_fn(translate_one, contents, fn_output_signature=tf.TensorSpec([], tf.string))


@dataclasses.dataclass(frozen=True)
class Signature:
    """One serving function: its Python body and its input spec."""

    function: Callable[[tf.Tensor], dict[str, tf.Tensor]]
    input_spec: tf.TensorSpec


def signatures(generator: keras.Model, config: Config,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, Signature]:
    """The three serving signatures of `generator`, by name (see the module docstring);
    each refuses images of more than `max_pixels` pixels."""
    sizes = size_rule(config)
    background = config.background

    def serving_default(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"images": translate_uint8_images(generator, images, sizes, max_pixels)}

    def translate_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"png_bytes": translate_encoded_images(generator, image_bytes, sizes,
                                                      background, max_pixels)}

    def translate_float(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"images": translate_float_images(generator, images, sizes, max_pixels)}

    batch = [None, None, None, 3]
    return {
        "serving_default": Signature(serving_default, tf.TensorSpec(batch, tf.uint8, "images")),
        "translate_bytes": Signature(translate_bytes,
                                     tf.TensorSpec([None], tf.string, "image_bytes")),
        "translate_float": Signature(translate_float,
                                     tf.TensorSpec(batch, tf.float32, "images")),
    }
