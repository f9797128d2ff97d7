"""Export a trained generator as a self-contained SavedModel for TF Serving or any TF runtime.

The architecture comes from the run's `config.json`; the weights from its newest
checkpoint that restores (or `checkpoint`). `a2b` exports generator G, `b2a` generator F,
and `both` writes the two as `DIR/a2b` and `DIR/b2a`. The SavedModel needs no code of ours
to load, and has three signatures (see `serving`):

* `serving_default`: `images`, uint8 [N, H, W, 3] -> `images`, uint8 [N, H, W, 3].
* `translate_bytes`: `image_bytes`, string [N] of encoded JPEG/PNG/BMP/GIF -> `png_bytes`,
  string [N] of PNG images, each at its own size. The `_bytes` suffix makes TF Serving's
  REST API carry them as `{"b64": ...}`.
* `translate_float`: `images`, float32 [N, H, W, 3] in [-1, 1] -> `images`, float32.

The generator runs in inference mode (dropout off, batch norm on its moving averages) and,
by default, in float32, whatever precision the run trained in. `compute="bf16"` computes
its layers in bfloat16 (the float32 weights cast once per call; inputs, outputs and the
last layer stay float32): about 2x faster on CPUs with AVX512_BF16 or AMX, output pixels
within a few levels of the float32 model's, but slow on CPUs that must emulate bfloat16.

Every signature refuses an image of more than `max_pixels` pixels (default
`serving.DEFAULT_MAX_PIXELS`, 4096 x 4096) with an error, `translate_bytes` before decoding
it, so a small file that declares a huge image cannot make the server allocate gigabytes.

`DIR/assets/` holds `config.json` (the run's configuration) and `export.json` (direction,
training step, checkpoint, precision, size rule, pixel limit). The export is written beside
`DIR` and renamed into place, so an interrupted export never leaves a partial model at `DIR`.

`formats` adds ONNX and LiteRT files beside the SavedModel (or instead of it), described in
`portable`: `DIR/generator.onnx`, `DIR/generator.tflite`, ... They are always computed in
float32, from the run's checkpoint or from an existing SavedModel of ours (`saved_model`).
`DIR/export.json` and `DIR/config.json` then describe them: the same metadata, plus one
entry per format (file, input and output names, bytes).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import TextIO

import keras

from cyclegan_tf.core import configs
from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.files import atomic_write_json
from cyclegan_tf.core.version import __version__
from cyclegan_tf.inference import portable
from cyclegan_tf.inference.generators import (
    DIRECTIONS,
    GENERATOR_NAMES,
    ExportError,
    LoadedRun,
    load_export,
    load_run,
    parse_direction,
)
from cyclegan_tf.inference.serving import DEFAULT_MAX_PIXELS, SIGNATURES, signatures, size_rule

EXPORT_INFO = "export.json"
SAVED_MODEL_FILE = "saved_model.pb"


def write_saved_model(generator: keras.Model, config: Config, directory: str,
                      info: dict[str, object], max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Writes `generator`'s SavedModel into the new folder `directory`, with its assets;
    its signatures refuse images of more than `max_pixels` pixels."""
    archive = keras.export.ExportArchive()
    archive.track(generator)
    for name, signature in signatures(generator, config, max_pixels).items():
        archive.add_endpoint(name, signature.function, input_signature=[signature.input_spec])
    archive.write_out(directory, verbose=False)
    assets = os.path.join(directory, "assets")
    configs.save_config(config, assets)
    atomic_write_json(os.path.join(assets, EXPORT_INFO), info)


def _is_replaceable(output: str) -> bool:
    """Whether an existing `output` is an earlier export (or empty), safe to replace."""
    if not os.listdir(output):
        return True
    folders = [output] + [os.path.join(output, d) for d in DIRECTIONS]
    return any(os.path.exists(os.path.join(f, name)) for f in folders
               for name in (SAVED_MODEL_FILE, EXPORT_INFO))


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


def _info(run: LoadedRun, direction: str, precision: str, max_pixels: int) -> dict[str, object]:
    """The metadata every format of one direction's export records."""
    return {
        "direction": direction, "generator": GENERATOR_NAMES[direction], "step": run.step,
        "checkpoint": os.path.abspath(run.checkpoint) if run.checkpoint else "",
        "precision": precision, "size_rule": size_rule(run.config)._asdict(),
        "max_pixels": max_pixels, "cyclegan_tf_version": __version__,
    }


def _write_direction(target: str, direction: str, formats: tuple[str, ...],
                     run: LoadedRun, portable_run: LoadedRun, max_pixels: int,
                     out: TextIO) -> None:
    """Writes every format of one direction into the new folder `target`."""
    generator = run.generators[direction]
    if "savedmodel" in formats:
        info = {**_info(run, direction, run.precision, max_pixels), "format": "savedmodel",
                "signatures": list(SIGNATURES)}
        write_saved_model(generator, run.config, target, info, max_pixels)
    else:
        os.makedirs(target)
    described = _info(portable_run, direction, "float32", max_pixels)
    files: dict[str, object] = {}
    for fmt in formats:
        if fmt == "savedmodel":
            continue
        print(f"Converting {direction} to {fmt} ...", file=out, flush=True)
        path = portable.write_portable(portable_run.generators[direction], portable_run.config,
                                       target, fmt, {**described, "format": fmt})
        files[fmt] = {"file": os.path.basename(path), "input": portable.INPUT_NAME,
                      "output": portable.OUTPUT_NAME, "bytes": os.path.getsize(path)}
    if files:
        configs.save_config(portable_run.config, target)
        atomic_write_json(os.path.join(target, EXPORT_INFO), {**described, "formats": files})


def export_generator(run_dir: str, output: str, direction: str = "a2b",
                     checkpoint: str = "", compute: str = "float32",
                     out: TextIO = sys.stderr, max_pixels: int = DEFAULT_MAX_PIXELS,
                     formats: tuple[str, ...] = ("savedmodel",), saved_model: str = "") -> str:
    """Exports the run's generator(s) at `output` in `formats`; returns `output`.

    Args:
        run_dir: A training run folder (config.json and checkpoints/); or empty with
            `saved_model`.
        output: The export folder; with `direction='both'`, the folder holding `a2b/`
            and `b2a/`. An existing earlier export there is replaced once the new one is
            complete; any other existing non-empty folder is an error.
        direction: 'a2b' (generator G), 'b2a' (generator F) or 'both'.
        checkpoint: A checkpoint prefix or folder; default the run's latest.
        compute: 'float32', 'bf16' or 'auto' (bf16 where the CPU has it), the precision
            the SavedModel's generator computes in (the portable formats use float32).
        out: Where a passed-over damaged checkpoint and conversions are reported.
        max_pixels: The most pixels (height x width) of one image the SavedModel accepts;
            larger inputs are refused with an error (a decompression-bomb guard).
        formats: Any of `portable.FORMATS`: 'savedmodel', 'onnx', 'tflite', ...
        saved_model: Instead of a run, one of our SavedModel exports to convert (to the
            portable formats only).

    Raises:
        ExportError: for a bad direction, precision, format, run, checkpoint or output.
    """
    directions = parse_direction(direction)
    if max_pixels < 1:
        raise ExportError(f"--max_pixels must be positive, got {max_pixels}.")
    if not set(formats) <= set(portable.FORMATS) or not formats:
        raise ExportError(f"--format must be among {', '.join(portable.FORMATS)}, "
                          f"got {', '.join(formats) or 'nothing'}.")
    if bool(run_dir) == bool(saved_model):
        raise ExportError("Pass exactly one of --run_dir (a training run) and --saved_model "
                          "(an existing export to convert).")
    output = os.path.abspath(output)
    if os.path.isfile(output) or (os.path.isdir(output) and not _is_replaceable(output)):
        raise ExportError(
            f"--output={output!r} exists and is not an earlier export; choose a new folder.")
    if saved_model:
        if "savedmodel" in formats:
            raise ExportError("--saved_model is already a SavedModel: choose only portable "
                              f"--format values ({', '.join(portable.PORTABLE_FORMATS)}).")
        run = portable_run = load_export(saved_model)
        directions = tuple(run.generators)
    else:
        run = portable_run = load_run(run_dir, directions, checkpoint, compute, out)
        if run.precision != "float32" and set(formats) - {"savedmodel"}:
            portable_run = load_run(run_dir, directions, run.checkpoint, "float32", out)
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.tmp-", dir=parent)
    os.chmod(staging, 0o755)  # mkdtemp's 0o700 would hide the model from a serving user.
    try:
        for name in directions:
            target = os.path.join(staging, name if len(directions) > 1 else "model")
            _write_direction(target, name, formats, run, portable_run, max_pixels, out)
        _swap_into_place(staging if len(directions) > 1 else os.path.join(staging, "model"),
                         output)
    except portable.PortableExportError as error:
        raise ExportError(str(error)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output
