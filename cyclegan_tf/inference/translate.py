"""Translate images with an exported SavedModel, or straight from a training run.

`Translator` loads a model (see its docstring) and translates PIL images or arrays;
`translate_paths` translates files. `--input` is one image or a folder of them (its JPEG,
PNG, BMP and GIF files, not sub-folders). Each image keeps its size and is written as
`OUTPUT/<stem>.png` (`<stem>_<ext>.png` when two inputs share a stem); images of equal
size are translated in batches. `--side_by_side` also writes input|output pairs to `OUTPUT/side_by_side/`, and
`--panel N` one grid of the first N input/output pairs to `OUTPUT/panel.png`. Files that
cannot be read or decoded are reported by name and skipped.

`--tile T` translates images larger than T x T tile by tile (see `tiling`), in memory that
does not grow with the model's activations, so photos of any size up to `TILED_MAX_PIXELS`
translate; with `--tile_statistics=image` (the default) every tile is normalised by the
whole image's statistics, measured on a downscaled pass.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from typing import TextIO

import keras
import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps

from cyclegan_tf.core import configs
from cyclegan_tf.core.configs import ConfigError
from cyclegan_tf.core.files import printable_path
from cyclegan_tf.core.images import save_png
from cyclegan_tf.core.progress import ProgressBar
from cyclegan_tf.data.pipeline import DataError, list_images, to_rgb
from cyclegan_tf.data.scan import decode_with_pillow
from cyclegan_tf.inference import export, serving, tiling
from cyclegan_tf.inference.generators import (
    DIRECTIONS,
    ExportError,
    inference_precision,
    load_export,
    load_run,
)

SIDE_BY_SIDE_DIR = "side_by_side"
PANEL_FILE = "panel.png"
PANEL_CELL = 128  # Pixels of each image's square in the panel.
WHITE = (255, 255, 255)
# With --tile the model sees only tiles, so the per-image limit is the decoded image's
# memory instead: 3 bytes a pixel in and 3 out (20000 x 20000 is 2.4 GB).
TILED_MAX_PIXELS = 20000 * 20000


class TranslateError(ValueError):
    """A model, input or output that cannot be used; the message names the flag."""


# Loading a model. ----------------------------------------------------------------------


def _background(path: str) -> tuple[int, int, int]:
    """The background colour of the config saved with a run or export; white without one."""
    try:
        return tuple(configs.load_config(path).background)
    except (ConfigError, OSError):
        return WHITE


def _export_info(saved_model: str) -> dict:
    """The export.json of an export's assets; empty when there is none."""
    path = os.path.join(saved_model, "assets", export.EXPORT_INFO)
    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _export_direction(saved_model: str) -> str | None:
    """The direction recorded in an export's assets, if any."""
    return _export_info(saved_model).get("direction")


def _has_saved_model(path: str) -> bool:
    return os.path.exists(os.path.join(path, export.SAVED_MODEL_FILE))


def serving_version(path: str) -> str | None:
    """The highest numeric version sub-folder holding a SavedModel, as TF Serving picks it."""
    try:
        names = os.listdir(path)
    except OSError:
        return None
    versions = [int(n) for n in names if n.isdigit() and (
        _has_saved_model(os.path.join(path, n))
        or any(_has_saved_model(os.path.join(path, n, d)) for d in DIRECTIONS))]
    return os.path.join(path, str(max(versions))) if versions else None


def _describe(path: str) -> str:
    """What is at `path`, for an error message."""
    if not os.path.exists(path):
        parent = os.path.dirname(os.path.abspath(path))
        state = "exists" if os.path.isdir(parent) else "does not exist either"
        return f"it does not exist (the folder {parent} {state})"
    if os.path.isfile(path):
        return "it is a file"
    inside = sorted(os.listdir(path))
    return f"it holds: {', '.join(inside[:8]) + (' ...' if len(inside) > 8 else '') or 'nothing'}"


class Translator:
    """Translates images with an exported SavedModel or straight from a training run.

    `model` is a SavedModel written by `cyclegan_tf.export`, the folder holding the `a2b/`
    and `b2a/` of `--direction=both`, a TF Serving base folder (numeric version
    sub-folders: the highest is used), or a run folder, whose newest checkpoint is loaded
    in memory (no export needed). `direction` defaults to the export's own, or 'a2b'.

    `precision` is what the generator computes in: 'auto' (the default) is bf16 on a CPU
    with native bfloat16 (AVX512_BF16 or AMX; 2-4x faster, pixels within a few levels of
    float32's) and float32 elsewhere; 'float32' and 'bf16' force one. A SavedModel exported
    in the other precision is rebuilt in memory from its own config and weights, so one
    float32 export serves every CPU at its best speed.

        translator = Translator("models/tom2jerry")
        cartoon = translator(Image.open("photo.jpg"))  # A PIL image in, a PIL image out.
    """

    def __init__(self, model: str, direction: str | None = None, precision: str = "auto"):
        if direction not in (None, *DIRECTIONS):
            raise TranslateError(f"--direction={direction!r} is not one of a2b, b2a.")
        try:
            self.precision = inference_precision(precision)
        except ExportError as error:
            raise TranslateError(str(error)) from None
        self._float32: tuple[keras.Model, configs.Config] | None = None  # For tiling.
        version = None if _has_saved_model(model) else serving_version(model)
        if version:
            model = version
        if _has_saved_model(model) or any(_has_saved_model(os.path.join(model, d))
                                           for d in DIRECTIONS):
            self._load_saved_model(model, direction)
        elif os.path.exists(os.path.join(model, configs.CONFIG_FILENAME)):
            self._load_run(model, direction)
        else:
            raise TranslateError(
                f"--model={model!r} is not a SavedModel (saved_model.pb), a TF Serving base "
                f"folder (numbered versions) or a run folder ({configs.CONFIG_FILENAME}): "
                f"{_describe(model)}.")

    def _load_saved_model(self, path: str, direction: str | None) -> None:
        if not _has_saved_model(path):  # An export of both directions.
            path = os.path.join(path, direction or "a2b")
        recorded = _export_direction(path)
        if direction and recorded and recorded != direction:
            raise TranslateError(
                f"--model={path!r} translates {recorded}, not --direction={direction}.")
        self._saved_model_path = path
        info = _export_info(path)
        self.max_pixels = int(info.get("max_pixels", serving.DEFAULT_MAX_PIXELS))
        self.background = _background(path)
        exported = info.get("precision", "float32")
        rebuilt = "" if exported == self.precision else f", rebuilt from its {exported} export"
        self.description = (f"SavedModel {path} ({recorded or direction or 'a2b'}, "
                            f"{self.precision}{rebuilt})")
        if not rebuilt:
            loaded = tf.saved_model.load(path)
            self._keep_alive = loaded  # Its signatures run only while it lives.
            serve = loaded.signatures["serving_default"]
            self._function = lambda images: serve(images=images)["images"]
            self.generator, self.config = None, None  # Rebuilt on demand.
            return
        self.generator, self.config = self._rebuilt_export(self.precision)
        self._function = self._compiled(self.generator, self.config)

    def _rebuilt_export(self, compute: str) -> tuple[keras.Model, configs.Config]:
        try:
            run = load_export(self._saved_model_path, compute)
        except ExportError as error:
            raise TranslateError(f"--model: {error}") from None
        (generator,) = run.generators.values()
        return generator, run.config

    def _load_run(self, path: str, direction: str | None) -> None:
        direction = direction or "a2b"
        run = load_run(path, [direction], compute=self.precision)
        self._saved_model_path = None
        self._run = (path, direction)
        self.generator, self.config = run.generators[direction], run.config
        self.max_pixels = serving.DEFAULT_MAX_PIXELS
        self._function = self._compiled(self.generator, self.config)
        self.background = run.config.background
        self.description = (f"run {path} ({direction}, {run.checkpoint}, step {run.step}, "
                            f"{self.precision})")

    def _compiled(self, generator: keras.Model, config: configs.Config
                  ) -> Callable[[tf.Tensor], tf.Tensor]:
        """A compiled uint8 [N, H, W, 3] -> uint8 translation by the in-memory generator."""
        sizes = serving.size_rule(config)
        spec = tf.TensorSpec([None, None, None, 3], tf.uint8)
        return tf.function(
            lambda images: serving.translate_uint8_images(generator, images, sizes,
                                                          self.max_pixels),
            input_signature=[spec])

    def translate_batch(self, images: np.ndarray) -> np.ndarray:
        """uint8 [N, H, W, 3] to uint8 [N, H, W, 3]."""
        return self._function(tf.constant(images, tf.uint8)).numpy()

    def in_memory_generator(self) -> tuple[keras.Model, configs.Config]:
        """The float32 Keras generator and its config (for a SavedModel, rebuilt from it).

        Float32 whatever `precision` is: tiling with image statistics fixes each instance
        norm's statistics, which only the float32 layers support."""
        if self.generator is not None and self.precision == "float32":
            return self.generator, self.config
        if self._float32 is None:
            if self._saved_model_path:
                self._float32 = self._rebuilt_export("float32")
            else:
                path, direction = self._run
                run = load_run(path, [direction])
                self._float32 = run.generators[direction], run.config
        return self._float32

    def translate_tiled(self, image: np.ndarray, tile: int, overlap: int = 64,
                        statistics: str = "image", batch_size: int = 1) -> np.ndarray:
        """Translates a uint8 [H, W, 3] image of any size tile by tile (see `tiling`).

        `statistics='image'` normalises every tile by the whole image's statistics
        (measured on a copy downscaled to `tile` pixels); 'tile' by each tile's own.
        `batch_size` tiles are translated together: memory grows with it, speed barely.
        """
        _check_tile_options(TileOptions(tile, overlap, statistics))
        if statistics == "tile":
            return tiling.translate_tiled(self.translate_batch, image, tile, overlap, batch_size)
        generator, config = self.in_memory_generator()
        sizes = serving.size_rule(config)

        def eager(batch: np.ndarray) -> np.ndarray:  # Eager: the statistics change per image.
            return serving.translate_uint8_images(generator, tf.constant(batch), sizes).numpy()

        measured = tiling.image_statistics(generator, config, image, tile)
        with tiling.fixed_statistics(measured):
            return tiling.translate_tiled(eager, image, tile, overlap, batch_size)

    def __call__(self, image: Image.Image | np.ndarray) -> Image.Image | np.ndarray:
        """Translates one image: a PIL image (any mode) gives a PIL RGB image; a uint8
        [H, W, 3] or [N, H, W, 3] array gives an array of the same shape."""
        if isinstance(image, Image.Image):
            pixels = np.asarray(image.convert("RGBA" if "A" in image.getbands() else "RGB"))
            rgb = tf.cast(tf.round(to_rgb(pixels, self.background)), tf.uint8).numpy()
            return Image.fromarray(self.translate_batch(rgb[None])[0])
        pixels = np.asarray(image)
        if pixels.dtype != np.uint8 or pixels.shape[-1:] != (3,) or pixels.ndim not in (3, 4):
            raise TranslateError(f"An array to translate must be uint8 [H, W, 3] or "
                                 f"[N, H, W, 3], got {pixels.dtype} {pixels.shape}.")
        if pixels.ndim == 3:
            return self.translate_batch(pixels[None])[0]
        return self.translate_batch(pixels)


# Inputs and outputs. -------------------------------------------------------------------


def list_inputs(path: str) -> list[str]:
    """`--input`: one file, or the image files of a folder sorted by name."""
    if os.path.isdir(path):
        try:
            return list_images(path)
        except DataError as error:
            raise TranslateError(f"--input: {error}") from None
    if not os.path.isfile(path):
        raise TranslateError(f"--input={path!r} is neither an image file nor a folder of "
                             f"images: {_describe(path)}.")
    return [path]


def output_names(paths: list[str]) -> dict[str, str]:
    """Each input's output file name, distinct for every input.

    `<stem>.png`; when stems clash (cat.jpg and cat.png) `<stem>_<ext>.png`; and should that
    still clash (with an input named cat_png.png), `_2`, `_3`, ... is added, in input order.
    Compared case-insensitively, so the names stay distinct on macOS and Windows disks too.
    """
    stems = collections.Counter(os.path.splitext(os.path.basename(p))[0].lower() for p in paths)
    names: dict[str, str] = {}
    taken: set[str] = set()
    for path in paths:
        stem, ext = os.path.splitext(os.path.basename(path))
        base = stem if stems[stem.lower()] == 1 else f"{stem}_{ext.lstrip('.')}"
        name, count = f"{base}.png", 1
        while name.lower() in taken:
            count += 1
            name = f"{base}_{count}.png"
        taken.add(name.lower())
        names[path] = name
    return names


def read_image(path: str, background: tuple[int, int, int] = WHITE,
               max_pixels: int = serving.DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image file as uint8 RGB [H, W, 3] at its full size, upright as a viewer shows it
    (EXIF orientation applied), transparency composited onto `background` as in training.

    Raises `OSError` when the file cannot be read or decoded, or declares more than
    `max_pixels` pixels (checked from its header, before decoding).
    """
    try:
        with warnings.catch_warnings():  # Only the header is read here; the size is checked.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as header:
                width, height = header.size
    except (OSError, Image.DecompressionBombError) as error:
        raise OSError(str(error)) from None
    if width * height > max_pixels:
        raise OSError(f"{width}x{height} is {width * height} pixels, more than the model's "
                      f"limit of {max_pixels} (cyclegan_tf.export --max_pixels); downscale it")
    try:
        pixels = decode_with_pillow(path, min_size=sys.maxsize)  # Never downscaled.
    except Image.DecompressionBombError as error:
        raise OSError(str(error)) from None
    return tf.cast(tf.round(to_rgb(pixels, background)), tf.uint8).numpy()


def _error_reason(error: Exception) -> str:
    """The gist of a read or decode error, without TensorFlow's op and device decorations."""
    message = getattr(error, "message", None) or str(error)
    message = re.sub(r"\{\{[^}]*\}\}|\[Op:[^\]]*\].*$", "", message.strip().splitlines()[0])
    return message.strip()


def fit_cell(image: np.ndarray, cell: int = PANEL_CELL) -> np.ndarray:
    """`image` scaled to fit a `cell` x `cell` square, centred on white."""
    return np.asarray(ImageOps.pad(Image.fromarray(image), (cell, cell), color=WHITE))


def panel_image(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """A grid of (input, output) pairs of equal square cells (see `fit_cell`).

    Pairs fill rows left to right; a panel has about twice as many rows as pairs per row,
    so it comes out roughly square.
    """
    cell = pairs[0][0].shape[0]
    per_row = math.ceil(math.sqrt(len(pairs) / 2))
    rows = math.ceil(len(pairs) / per_row)
    panel = np.full((rows * cell, 2 * per_row * cell, 3), 255, np.uint8)
    for i, pair in enumerate(pairs):
        row, col = divmod(i, per_row)
        for j, image in enumerate(pair):
            left = (2 * col + j) * cell
            panel[row * cell:(row + 1) * cell, left:left + cell] = image
    return panel


@dataclasses.dataclass
class TranslateResult:
    """What a call to `translate_paths` did."""

    outputs: dict[str, str]  # Input path -> translated PNG.
    skipped: dict[str, str]  # Input path -> why it was skipped.
    panel: str | None = None
    seconds: float = 0.0  # Reading, translating and writing, model loading excluded.

    @property
    def images_per_second(self) -> float:
        """Translated images per second of `seconds`."""
        return len(self.outputs) / self.seconds if self.seconds else 0.0

    @property
    def summary(self) -> str:
        """One line: how many were translated, which were skipped, and how fast."""
        line = f"Translated {len(self.outputs)} of {len(self.outputs) + len(self.skipped)} images"
        if self.skipped:
            names = ", ".join(printable_path(os.path.basename(p)) for p in self.skipped)
            line += f"; skipped {len(self.skipped)} unreadable: {names}"
        line += "."
        if self.seconds:
            line += f" {self.seconds:.1f} s, {self.images_per_second:.2f} images/s."
        return line


class _Writer:
    """Writes translated batches: outputs, optional side-by-side pairs, the panel's pairs."""

    def __init__(self, output_dir: str, names: dict[str, str], order: dict[str, int],
                 side_by_side: bool, panel: int):
        self.output_dir = output_dir
        self.names = names
        self.order = order
        self.side_by_side = side_by_side
        self.panel = panel
        self.panel_pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.outputs: dict[str, str] = {}

    def write(self, paths: list[str], inputs: np.ndarray, outputs: np.ndarray) -> None:
        for path, source, result in zip(paths, inputs, outputs):
            target = os.path.join(self.output_dir, self.names[path])
            save_png(result, target)
            self.outputs[path] = target
            if self.side_by_side:
                save_png(np.concatenate([source, result], axis=1),
                         os.path.join(self.output_dir, SIDE_BY_SIDE_DIR, self.names[path]))
            self._keep_for_panel(self.order[path], source, result)

    def _keep_for_panel(self, index: int, source: np.ndarray, result: np.ndarray) -> None:
        # Only the first `panel` pairs in input order are kept, and only as small cells.
        if not self.panel:
            return
        self.panel_pairs[index] = (fit_cell(source), fit_cell(result))
        if len(self.panel_pairs) > self.panel:
            del self.panel_pairs[max(self.panel_pairs)]

    def write_panel(self) -> str | None:
        if not self.panel_pairs:
            return None
        path = os.path.join(self.output_dir, PANEL_FILE)
        save_png(panel_image([self.panel_pairs[i] for i in sorted(self.panel_pairs)]), path)
        return path


def _check_output(output_dir: str, paths: list[str]) -> None:
    pairs = os.path.join(output_dir, SIDE_BY_SIDE_DIR)
    if os.path.islink(pairs):
        raise TranslateError(f"{pairs!r} is a symbolic link; translate writes only inside "
                             f"--output={output_dir!r}. Remove the link or choose another folder.")
    folders = {os.path.realpath(os.path.dirname(p)) for p in paths}
    if os.path.realpath(output_dir) in folders:
        raise TranslateError(
            f"--output={output_dir!r} is the input folder; its PNG files would be overwritten. "
            "Choose another folder.")


@dataclasses.dataclass(frozen=True)
class TileOptions:
    """`--tile`, `--overlap` and `--tile_statistics` (see `Translator.translate_tiled`)."""

    tile: int = 0  # 0: whole images.
    overlap: int = 64
    statistics: str = "image"


def _check_tile_options(tiles: TileOptions) -> None:
    """Raises TranslateError naming the flag for an unusable --tile, --overlap or
    --tile_statistics."""
    if tiles.statistics not in tiling.TILE_STATISTICS:
        raise TranslateError(f"--tile_statistics={tiles.statistics!r} is not one of "
                             f"{', '.join(tiling.TILE_STATISTICS)}.")
    try:
        tiling.check_tiling(tiles.tile, tiles.overlap)
    except ValueError as error:
        raise TranslateError(str(error)) from None


def _translate_in_batches(paths: list[str], model: Translator, writer: _Writer, batch_size: int,
                          out: TextIO, tiles: TileOptions = TileOptions()) -> dict[str, str]:
    """Reads, translates and writes `paths`, batching equal sizes and tiling large images
    (with `tiles.tile`); returns the skipped ones."""
    skipped: dict[str, str] = {}
    bar = ProgressBar(len(paths), stream=out)
    pending: dict[tuple[int, ...], list[tuple[str, np.ndarray]]] = collections.defaultdict(list)

    def flush(shape: tuple[int, ...]) -> None:
        batch = pending.pop(shape)
        images = np.stack([image for _, image in batch])
        writer.write([path for path, _ in batch], images, model.translate_batch(images))
        bar.update(len(writer.outputs) + len(skipped), "translating")

    limit = TILED_MAX_PIXELS if tiles.tile else model.max_pixels
    for path in paths:
        try:
            image = read_image(path, model.background, limit)
        except (tf.errors.OpError, OSError) as error:
            skipped[path] = _error_reason(error)
            bar.message(f"Skipped {path!r}: {skipped[path]}")
            bar.update(len(writer.outputs) + len(skipped), "translating")
            continue
        if tiles.tile and max(image.shape[:2]) > tiles.tile:
            result = model.translate_tiled(image, tiles.tile, tiles.overlap, tiles.statistics)
            writer.write([path], image[None], result[None])
            bar.update(len(writer.outputs) + len(skipped), "translating")
            continue
        pending[image.shape].append((path, image))
        if len(pending[image.shape]) == batch_size:
            flush(image.shape)
        elif sum(map(len, pending.values())) > 4 * batch_size:
            # Many different sizes: bound the memory held by sending the fullest batch.
            flush(max(pending, key=lambda shape: len(pending[shape])))
    for shape in list(pending):
        flush(shape)
    bar.close()
    return skipped


def translate_paths(model: str, inputs: str, output_dir: str, direction: str | None = None,
                    side_by_side: bool = False, panel: int = 0, batch_size: int = 8,
                    out: TextIO = sys.stdout, tiles: TileOptions = TileOptions(),
                    precision: str = "auto") -> TranslateResult:
    """Translates the image file or folder `inputs` into `output_dir`; see the module docstring.

    Args:
        model: A SavedModel folder, a `--direction=both` export folder or a run folder.
        inputs: An image file or a folder of images.
        output_dir: Where translated PNGs go (created); it must not be the input folder.
        direction: 'a2b' or 'b2a'; default the export's own, 'a2b' for a run.
        side_by_side: Also write input|output pairs to `output_dir/side_by_side/`.
        panel: When positive, write a grid of the first `panel` pairs to `panel.png`.
        batch_size: Most images of one size translated together.
        out: Where skipped files and the summary are reported.
        tiles: Tiling of images larger than `tiles.tile` (0: none).
        precision: What the generator computes in: 'auto', 'float32' or 'bf16' (see
            `Translator`).

    Raises:
        TranslateError: for an unusable model, input or output (naming the flag).
    """
    if batch_size < 1 or panel < 0:
        raise TranslateError(f"--batch_size must be positive and --panel not negative, got "
                             f"{batch_size} and {panel}.")
    if tiles.tile:
        _check_tile_options(tiles)
    paths = list_inputs(inputs)
    _check_output(output_dir, paths)
    translator = Translator(model, direction, precision)
    os.makedirs(output_dir, exist_ok=True)
    if side_by_side:
        os.makedirs(os.path.join(output_dir, SIDE_BY_SIDE_DIR), exist_ok=True)
    writer = _Writer(output_dir, output_names(paths), {p: i for i, p in enumerate(paths)},
                     side_by_side, panel)
    started = time.perf_counter()
    skipped = _translate_in_batches(paths, translator, writer, batch_size, out, tiles)
    result = TranslateResult(writer.outputs, skipped, writer.write_panel(),
                             time.perf_counter() - started)
    print(f"{result.summary} Model: {translator.description}; outputs in {output_dir}"
          + (f", panel {result.panel}" if result.panel else "") + ".", file=out)
    return result
