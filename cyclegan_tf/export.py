"""Export a trained generator as a self-contained SavedModel for TF Serving or any TF runtime.

    python -m cyclegan_tf.export --run_dir RUN --direction a2b|b2a|both --output DIR \
        [--checkpoint PATH] [--precision float32|bfloat16]

The architecture comes from `RUN/config.json`; the weights from the run's latest checkpoint
(or `--checkpoint`). `a2b` exports generator G, `b2a` generator F, and `both` writes the two
as `DIR/a2b` and `DIR/b2a`. The SavedModel needs no code of ours to load, and has three
signatures:

* `serving_default`: `images`, uint8 [N, H, W, 3] -> `images`, uint8 [N, H, W, 3].
* `translate_bytes`: `image_bytes`, string [N] of encoded JPEG/PNG/BMP/GIF -> `png_bytes`,
  string [N] of PNG images, each at its own size. The `_bytes` suffix makes TF Serving's
  REST API carry them as `{"b64": ...}`.
* `translate_float`: `images`, float32 [N, H, W, 3] in [-1, 1] -> `images`, float32.

Every signature takes any height and width: the image is padded by reflection to the next
size the generator accepts (`size_rule`: multiples of 2^depth for the UNet, of 4 for the
others, and at least 8 for the ResNet), translated, and cropped back, so the output has the
input's size. Where the padding exceeds what one reflection provides (tiny images, or a
UNet needing much larger multiples), the reflection repeats, as numpy's
`np.pad(mode="reflect")` does; images are never resized. The generator runs in inference
mode (dropout off, batch norm on its moving averages) and, by default, in float32, whatever
precision the run trained in. `--precision bfloat16` computes its layers in bfloat16 (the
float32 weights cast once per call; inputs, outputs and the last layer stay float32): about
2x faster on CPUs with AVX512_BF16 or AMX, output pixels within a few levels of the
float32 model's, but slow on CPUs that must emulate bfloat16.

`DIR/assets/` holds `config.json` (the run's configuration) and `export.json` (direction,
training step, checkpoint, size rule). The export is written beside `DIR` and renamed
into place, so an interrupted export never leaves a partial model at `DIR`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from typing import Callable, NamedTuple, Sequence

import keras
import tensorflow as tf
from absl import app, flags

from cyclegan_tf import __version__, cli, configs, precision
from cyclegan_tf.configs import Config, ConfigError
from cyclegan_tf.input_pipeline import decode_image
from cyclegan_tf.models import build_generator
from cyclegan_tf.train import run_paths

DIRECTIONS = ("a2b", "b2a")
# Which of the run's generators translates in each direction (see trainer.py).
GENERATOR_NAMES = {"a2b": "generator_g", "b2a": "generator_f"}
SIGNATURES = ("serving_default", "translate_bytes", "translate_float")
EXPORT_INFO = "export.json"
SAVED_MODEL_FILE = "saved_model.pb"
# --precision: the Keras dtype policy the exported generator computes in.
PRECISION_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


class ExportError(ValueError):
    """A run, checkpoint or output folder that cannot be exported from or to."""


# Loading a run's generators. -----------------------------------------------------------


@dataclasses.dataclass
class LoadedRun:
    """Generators restored from a run's checkpoint, with what they came from."""

    config: Config
    checkpoint: str
    step: int
    generators: dict[str, keras.Model]  # By direction: 'a2b' and/or 'b2a'.


def parse_direction(direction: str) -> tuple[str, ...]:
    """'a2b', 'b2a' or 'both' as the tuple of directions it stands for."""
    if direction == "both":
        return DIRECTIONS
    if direction not in DIRECTIONS:
        raise ExportError(f"--direction={direction!r} is not one of a2b, b2a, both.")
    return (direction,)


def find_checkpoint(run_dir: str, checkpoint: str | None = None) -> str:
    """The checkpoint prefix to export: `checkpoint` (a prefix or a folder) or the run's latest."""
    if checkpoint:
        if os.path.isdir(checkpoint):
            found = tf.train.latest_checkpoint(checkpoint)
            if not found:
                raise ExportError(f"--checkpoint={checkpoint!r} is a folder without checkpoints.")
            return found
        if not tf.io.gfile.exists(checkpoint + ".index"):
            raise ExportError(
                f"--checkpoint={checkpoint!r} is not a checkpoint (no {checkpoint}.index); "
                "pass a prefix such as RUN/checkpoints/ckpt-100."
            )
        return checkpoint
    folder = run_paths(run_dir)["checkpoints"]
    found = tf.train.latest_checkpoint(folder)
    if not found:
        raise ExportError(f"Run {run_dir!r} has no checkpoint in {folder}; train it first.")
    return found


def load_run(run_dir: str, directions: Sequence[str] = DIRECTIONS,
             checkpoint: str | None = None, compute: str = "float32") -> LoadedRun:
    """Builds the run's generators for `directions` and restores their weights.

    The generators compute in `compute` (a key of `PRECISION_POLICIES`). Only the
    generators and the step counter are read from the checkpoint. Raises `ExportError` (or
    `ConfigError`) naming the run or checkpoint when they cannot be used.
    """
    if compute not in PRECISION_POLICIES:
        raise ExportError(f"--precision={compute!r} is not one of "
                          f"{', '.join(PRECISION_POLICIES)}.")
    config_path = run_paths(run_dir)["config"]
    if not os.path.exists(config_path):
        raise ExportError(f"No {configs.CONFIG_FILENAME} in {run_dir!r}; is it a run folder?")
    config = configs.load_config(config_path)
    path = find_checkpoint(run_dir, checkpoint)
    # Checkpoint variables are float32 under every precision policy, so any run restores
    # into generators of either policy.
    with precision.policy_scope(PRECISION_POLICIES[compute]):
        generators = {d: build_generator(config, GENERATOR_NAMES[d]) for d in directions}
    step = tf.Variable(0, dtype=tf.int64, name="step")
    restored = tf.train.Checkpoint(
        step=step, **{GENERATOR_NAMES[d]: model for d, model in generators.items()})
    try:
        restored.restore(path).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        raise ExportError(
            f"Checkpoint {path} does not match the {config.generator} generator that "
            f"{config_path} describes: {error}"
        ) from error
    return LoadedRun(config, path, int(step), generators)


# The translation functions, in TensorFlow ops only so that they export. -----------------


class SizeRule(NamedTuple):
    """The heights and widths a generator takes: multiples of `multiple`, at least `minimum`."""

    multiple: int
    minimum: int


def size_rule(config: Config) -> SizeRule:
    """What inputs are padded to for the generator `config` describes.

    The UNet halves the image log2(image_size) times (see `models.unet_generator`); the
    ResNet and encoder-decoder generators twice. The ResNet's residual blocks also
    reflect-pad their quarter-resolution maps by one pixel, which needs two pixels there.
    """
    if config.generator == "unet":
        multiple = 2 ** (config.image_size.bit_length() - 1)
        return SizeRule(multiple, multiple)
    return SizeRule(4, 8 if config.generator == "resnet" else 4)


def check_images(images: tf.Tensor) -> tf.Tensor:
    """`images` after runtime checks that they are a non-empty [N, H, W, 3] batch.

    `ensure_shape` stays a runtime check even where the shape is known while tracing: TF
    Serving does not check fed shapes, and a rank-3 input would crash the convolution.
    """
    images = tf.ensure_shape(images, [None, None, None, 3])
    not_empty = tf.debugging.assert_positive(
        tf.shape(images)[:3],
        message="images must be a batch of at least one image of at least 1x1 pixel")
    with tf.control_dependencies([not_empty]):
        return tf.identity(images)


def _mirror_indices(size: tf.Tensor, before: tf.Tensor, after: tf.Tensor) -> tf.Tensor:
    """Indices along an axis of `size` that pad it by reflection, repeated as needed.

    Equal to `tf.pad(mode="REFLECT")` when the padding is smaller than `size`; beyond that
    the reflection continues back and forth, like `np.pad(mode="reflect")`. A size-1 axis
    repeats its one pixel.
    """
    positions = tf.range(-before, size + after)
    period = tf.maximum(2 * (size - 1), 1)
    folded = tf.math.floormod(positions, period)
    return tf.minimum(folded, period - folded)


def _padding(size: tf.Tensor, multiple: int, minimum: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(before, after) that pad `size` to a multiple of `multiple` >= `minimum`, split evenly."""
    total = tf.maximum((size + multiple - 1) // multiple * multiple, minimum) - size
    before = total // 2
    return before, total - before


def _translate(generator: keras.Model, images: tf.Tensor, sizes: SizeRule) -> tf.Tensor:
    """Float images in [-1, 1] of any size: pad, run in inference mode, crop."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    top, bottom = _padding(height, *sizes)
    left, right = _padding(width, *sizes)
    padded = tf.gather(images, _mirror_indices(height, top, bottom), axis=1)
    padded = tf.gather(padded, _mirror_indices(width, left, right), axis=2)
    outputs = tf.cast(generator(padded, training=False), tf.float32)
    return outputs[:, top:top + height, left:left + width, :]


def to_float(images: tf.Tensor) -> tf.Tensor:
    """uint8 [0, 255] to float32 [-1, 1], as in training."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """float [-1, 1] to uint8 [0, 255], rounded and clipped: `samples.to_uint8` in graph ops."""
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def translate_float_images(generator: keras.Model, images: tf.Tensor,
                           sizes: SizeRule) -> tf.Tensor:
    """Translates a float32 batch in [-1, 1] of any size to one of the same size.

    Height and width are padded by reflection to what the generator takes (`sizes`, see
    `size_rule`) and the result cropped back.
    """
    return _translate(generator, check_images(images), sizes)


def translate_uint8_images(generator: keras.Model, images: tf.Tensor,
                           sizes: SizeRule) -> tf.Tensor:
    """Translates a uint8 batch of any size to a uint8 batch of the same size."""
    return to_uint8(_translate(generator, to_float(check_images(images)), sizes))


def translate_encoded_images(generator: keras.Model, contents: tf.Tensor, sizes: SizeRule,
                             background: Sequence[int] = (255, 255, 255)) -> tf.Tensor:
    """Translates a [N] batch of encoded images to PNG strings, each at its own size.

    Decoding follows training: grayscale becomes RGB, transparency is composited onto
    `background`, a GIF gives its first frame.
    """

    def translate_one(encoded: tf.Tensor) -> tf.Tensor:
        image = tf.ensure_shape(decode_image(encoded, background), [None, None, 3])
        translated = _translate(generator, to_float(image)[None], sizes)
        return tf.io.encode_png(to_uint8(translated)[0])

    return tf.map_fn(translate_one, contents, fn_output_signature=tf.TensorSpec([], tf.string))


@dataclasses.dataclass(frozen=True)
class Signature:
    """One serving function: its Python body and its input spec."""

    function: Callable[[tf.Tensor], dict[str, tf.Tensor]]
    input_spec: tf.TensorSpec


def signatures(generator: keras.Model, config: Config) -> dict[str, Signature]:
    """The three serving signatures of `generator`, by name (see the module docstring)."""
    sizes = size_rule(config)
    background = config.background

    def serving_default(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"images": translate_uint8_images(generator, images, sizes)}

    def translate_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"png_bytes": translate_encoded_images(generator, image_bytes, sizes,
                                                      background)}

    def translate_float(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"images": translate_float_images(generator, images, sizes)}

    batch = [None, None, None, 3]
    return {
        "serving_default": Signature(serving_default, tf.TensorSpec(batch, tf.uint8, "images")),
        "translate_bytes": Signature(translate_bytes,
                                     tf.TensorSpec([None], tf.string, "image_bytes")),
        "translate_float": Signature(translate_float,
                                     tf.TensorSpec(batch, tf.float32, "images")),
    }


# Writing the SavedModel. ---------------------------------------------------------------


def write_saved_model(generator: keras.Model, config: Config, directory: str,
                      info: dict[str, object]) -> None:
    """Writes `generator`'s SavedModel into the new folder `directory`, with its assets."""
    archive = keras.export.ExportArchive()
    archive.track(generator)
    for name, signature in signatures(generator, config).items():
        archive.add_endpoint(name, signature.function, input_signature=[signature.input_spec])
    archive.write_out(directory, verbose=False)
    assets = os.path.join(directory, "assets")
    configs.save_config(config, assets)
    with open(os.path.join(assets, EXPORT_INFO), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")


def _is_replaceable(output: str) -> bool:
    """Whether an existing `output` is an earlier export (or empty), safe to replace."""
    if not os.listdir(output):
        return True
    folders = [output] + [os.path.join(output, d) for d in DIRECTIONS]
    return any(os.path.exists(os.path.join(f, SAVED_MODEL_FILE)) for f in folders)


def _swap_into_place(new: str, output: str) -> None:
    """Renames the finished export `new` to `output`, replacing an earlier one."""
    if not os.path.exists(output):
        os.replace(new, output)
        return
    # A directory cannot be renamed over a non-empty one: move the old one aside first.
    aside = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.old-",
                             dir=os.path.dirname(output))
    old = os.path.join(aside, "model")
    os.replace(output, old)
    try:
        os.replace(new, output)
    except OSError:
        os.replace(old, output)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def export_generator(run_dir: str, output: str, direction: str = "a2b",
                     checkpoint: str | None = None, compute: str = "float32") -> str:
    """Exports the run's generator(s) as SavedModel(s) at `output`; returns `output`.

    Args:
        run_dir: A training run folder (config.json and checkpoints/).
        output: The SavedModel folder; with `direction='both'`, the folder holding `a2b/`
            and `b2a/`. An existing earlier export there is replaced once the new one is
            complete; any other existing non-empty folder is an error.
        direction: 'a2b' (generator G), 'b2a' (generator F) or 'both'.
        checkpoint: A checkpoint prefix or folder; default the run's latest.
        compute: 'float32' or 'bfloat16', the precision the generator computes in.

    Raises:
        ExportError: for a bad direction, precision, run, checkpoint or output folder.
    """
    directions = parse_direction(direction)
    output = os.path.abspath(output)
    if os.path.isfile(output) or (os.path.isdir(output) and not _is_replaceable(output)):
        raise ExportError(
            f"--output={output!r} exists and is not an earlier export; choose a new folder.")
    run = load_run(run_dir, directions, checkpoint, compute)
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.tmp-", dir=parent)
    os.chmod(staging, 0o755)  # mkdtemp's 0o700 would hide the model from a serving user.
    try:
        for name in directions:
            target = staging if direction != "both" else os.path.join(staging, name)
            info = {
                "direction": name, "generator": GENERATOR_NAMES[name], "step": run.step,
                "checkpoint": os.path.abspath(run.checkpoint), "precision": compute,
                "size_rule": size_rule(run.config)._asdict(), "signatures": list(SIGNATURES),
                "cyclegan_tf_version": __version__,
            }
            write_saved_model(run.generators[name], run.config, target, info)
        _swap_into_place(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output


# Command line. -------------------------------------------------------------------------


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines the export flags (called by `run`, never at import)."""
    flags.DEFINE_string("run_dir", None, "Training run folder (config.json, checkpoints/).",
                        flag_values=flag_values)
    flags.DEFINE_string("output", None, "SavedModel folder to write; with --direction=both, "
                        "the folder that gets a2b/ and b2a/. For TF Serving, end it with a "
                        "version number, e.g. models/tom2jerry/1.", flag_values=flag_values)
    flags.DEFINE_enum("direction", "a2b", ["a2b", "b2a", "both"],
                      "a2b exports generator G (A to B), b2a generator F, both the two.",
                      flag_values=flag_values)
    flags.DEFINE_string("checkpoint", None, "Checkpoint prefix (e.g. RUN/checkpoints/ckpt-100) "
                        "or folder; default the run's latest.", flag_values=flag_values)
    flags.DEFINE_enum("precision", "float32", list(PRECISION_POLICIES),
                      "What the generator computes in. bfloat16 is about 2x faster on CPUs "
                      "with AVX512_BF16 or AMX (and on recent GPUs), with outputs within a "
                      "few pixel levels of float32's; inputs and outputs stay as documented.",
                      flag_values=flag_values)
    flags.mark_flags_as_required(["run_dir", "output"], flag_values=flag_values)


def export_from_flags(flag_values: flags.FlagValues = flags.FLAGS) -> str:
    """Runs the export the parsed flags describe, prints where it went and returns it."""
    output = export_generator(flag_values.run_dir, flag_values.output, flag_values.direction,
                              flag_values.checkpoint, flag_values.precision)
    print(f"Exported {flag_values.direction} ({flag_values.precision}) from "
          f"{flag_values.run_dir} to {output}; signatures: {', '.join(SIGNATURES)}.")
    return output


def run() -> None:
    """Console entry point."""
    define_flags()
    app.run(cli.main_for("cyclegan_tf.export", export_from_flags, (ExportError, ConfigError)))


if __name__ == "__main__":
    run()
