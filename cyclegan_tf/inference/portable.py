"""ONNX and LiteRT (TensorFlow Lite) exports: one graph that every runtime computes the same.

The portable graph takes `images`, uint8 [N, H, W, 3] of any N, H, W >= 1, and returns
`translated_images`, uint8 of the same shape: the SavedModel's `serving_default` with
distinct input and output names. It pads by reflection with gathers of non-negative
indices (see `serving`), so padding means the same in TensorFlow, onnxruntime and LiteRT,
and computes in float32. It has no assertions (neither ONNX nor LiteRT runs them): the
pixel limit of the SavedModel is the caller's to enforce, e.g. from `export.json`.

* `onnx`: `generator.onnx`, through tf2onnx, opset `ONNX_OPSET`, dynamic batch, height
  and width; `export.json` is also in the model's metadata (`metadata_props`).
* `tflite`: `generator.tflite`, float32 weights; `tflite_float16`: weights stored as
  float16 (half the file, computed in float32); `tflite_int8`: dynamic-range
  quantisation (int8 weights, activations quantised on the fly; a quarter of the file).
  Each has one signature, `translate`. Resize the input tensor to the image's shape
  before invoking (the signature runner does this).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable

import keras
import tensorflow as tf

from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.images import to_float, to_uint8
from cyclegan_tf.inference.serving import size_rule, translate_unchecked

INPUT_NAME = "images"
OUTPUT_NAME = "translated_images"
SIGNATURE = "translate"
ONNX_OPSET = 17
# Each portable format and the file it is written to.
FILES = {
    "onnx": "generator.onnx",
    "tflite": "generator.tflite",
    "tflite_float16": "generator_float16.tflite",
    "tflite_int8": "generator_int8.tflite",
}
PORTABLE_FORMATS = tuple(FILES)
FORMATS = ("savedmodel", *PORTABLE_FORMATS)
INSTALL_HINT = {"onnx": "pip install -e '.[onnx]' in the cyclegan_tf clone (tf2onnx)"}


class PortableExportError(RuntimeError):
    """A converter that is missing or failed; the message says which and what to do."""


def parse_formats(value: str) -> tuple[str, ...]:
    """'--format' (comma-separated, e.g. 'savedmodel,onnx') as a tuple of known formats."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"--format={value!r}: {', '.join(unknown) or 'nothing'} is not one of "
                         f"{', '.join(FORMATS)} (several may be given, comma-separated).")
    return formats


def portable_function(generator: keras.Model, config: Config
                      ) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """The portable graph's body (see the module docstring) for a float32 `generator`."""
    sizes = size_rule(config)

    def translate(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {OUTPUT_NAME: to_uint8(translate_unchecked(generator, to_float(images), sizes))}

    return translate


def _input_spec() -> tf.TensorSpec:
    return tf.TensorSpec([None, None, None, 3], tf.uint8, INPUT_NAME)


def onnx_bytes(generator: keras.Model, config: Config, metadata: dict[str, object]) -> bytes:
    """The serialised ONNX model of the portable graph, with `metadata` in its properties."""
    try:
        import tf2onnx
    except ImportError:
        raise PortableExportError(
            f"--format=onnx needs tf2onnx: {INSTALL_HINT['onnx']}.") from None
    function = tf.function(portable_function(generator, config),
                           input_signature=[_input_spec()])
    model, _ = tf2onnx.convert.from_function(function, input_signature=[_input_spec()],
                                             opset=ONNX_OPSET)
    entry = model.metadata_props.add()
    entry.key, entry.value = "export.json", json.dumps(metadata, sort_keys=True)
    return model.SerializeToString()


def tflite_bytes(generator: keras.Model, config: Config, weights: str = "float32") -> bytes:
    """The LiteRT flatbuffer of the portable graph; `weights` 'float32', 'float16' or 'int8'
    (dynamic-range quantisation)."""
    with tempfile.TemporaryDirectory(prefix="cyclegan_tflite-") as staging:
        # Converting through a SavedModel freezes Keras 3's variables into constants; a
        # concrete function converted directly would keep uninitialised variable reads.
        archive = keras.export.ExportArchive()
        archive.track(generator)
        archive.add_endpoint(SIGNATURE, portable_function(generator, config),
                             input_signature=[_input_spec()])
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging, signature_keys=[SIGNATURE])
        if weights in ("float16", "int8"):
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if weights == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()


def write_portable(generator: keras.Model, config: Config, directory: str, fmt: str,
                   metadata: dict[str, object]) -> str:
    """Writes format `fmt` (one of `PORTABLE_FORMATS`) of `generator` into `directory`;
    returns the file's path."""
    if fmt == "onnx":
        data = onnx_bytes(generator, config, metadata)
    else:
        data = tflite_bytes(generator, config, fmt.partition("_")[2] or "float32")
    path = os.path.join(directory, FILES[fmt])
    with open(path, "wb") as f:  # `directory` is the export's staging folder.
        f.write(data)
    return path
