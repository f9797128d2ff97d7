"""The quality harness: train a configuration on a benchmark with ground truth and score it.

A benchmark folder holds `trainA/` (photos), `trainB/` (the other domain's images),
`testA/` (held-out photos) and `testB_truth/` (the true translation of each test photo,
under the same file name): the layout `../shared/bench/make_photo2ink.py` writes.
`run_benchmark` trains for a step or wall-clock budget in equal parts, scores G(testA)
against testB_truth (PSNR and SSIM) after each part, then exports the generator as a
SavedModel, translates testA with it, scores that, and writes `quality.json`, the
translations and a side-by-side picture. Copying the input is scored as the reference
row: a generator that learned nothing useful scores at or below it. The best single affine
colour map, fitted to the truth, is scored beside it as a scale of what recolouring alone
can reach, and the palette transfer (the linear colour map that gives trainA's pixels
trainB's colour mean and covariance) as what matching the other folder's palette, and
nothing else, scores; the two --color_transfer maps (`cyclegan_tf.data.color_transfer`,
measured from the training folders alone) as where a generator with them starts. Two more
truth-based rows split the gap between copying and the truth into tone and colour: the
truth's luminance with the photo's colour (chroma), and the photo's luminance with the
truth's colour.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np
import tensorflow as tf
from PIL import Image

from cyclegan_tf.core import losses, metrics
from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.files import atomic_write_json
from cyclegan_tf.core.images import save_png, to_float
from cyclegan_tf.data import color_transfer
from cyclegan_tf.data.pipeline import UnpairedData, list_images
from cyclegan_tf.inference.export import export_generator
from cyclegan_tf.inference.translate import Translator
from cyclegan_tf.tools.benchmarking import machine
from cyclegan_tf.training.loop import train

BENCH_FOLDERS = ("trainA", "trainB", "testA", "testB_truth")
RESULT_FILE = "quality.json"
PICTURE_FILE = "side_by_side.png"
TRANSLATE_BATCH = 25
LUMA = np.array(losses.LUMA)
PALETTE_IMAGES = 200  # images per training folder that palette_transfer reads (evenly spaced)


class BenchmarkError(ValueError):
    """A benchmark folder or budget that cannot be used."""


class BenchmarkInterrupted(RuntimeError):
    """Training was stopped (Ctrl-C, SIGTERM) before the budget was spent."""


def _read_rgb(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def check_bench(bench_dir: str) -> None:
    """Raises BenchmarkError unless `bench_dir` is a folder with the benchmark's sub-folders."""
    if not os.path.isdir(bench_dir):
        raise BenchmarkError(f"The benchmark {bench_dir} is not a folder; make one with "
                             "../shared/bench/make_photo2ink.py.")
    missing = [name for name in BENCH_FOLDERS if not os.path.isdir(os.path.join(bench_dir, name))]
    if missing:
        raise BenchmarkError(
            f"--bench={bench_dir!r} lacks {', '.join(missing)}/; a benchmark holds "
            f"{', '.join(BENCH_FOLDERS)} (make one with ../shared/bench/make_photo2ink.py).")


def load_test_pairs(bench_dir: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The benchmark's test photos and their true translations, as uint8 [N, H, W, 3].

    Raises:
        BenchmarkError: when a folder is missing, a truth image is missing or the sizes
            differ.
    """
    check_bench(bench_dir)
    inputs = list_images(os.path.join(bench_dir, "testA"))
    if not inputs:
        raise BenchmarkError(f"--bench={bench_dir!r}: testA/ holds no images.")
    names, photos, truths = [], [], []
    for path in inputs:
        name = os.path.splitext(os.path.basename(path))[0]
        truth = os.path.join(bench_dir, "testB_truth", name + ".png")
        if not os.path.exists(truth):
            raise BenchmarkError(f"{path!r} has no ground truth {truth!r}.")
        photo, target = _read_rgb(path), _read_rgb(truth)
        if photo.shape != target.shape:
            raise BenchmarkError(f"{path!r} is {photo.shape[1]}x{photo.shape[0]} but its truth "
                                 f"{truth!r} is {target.shape[1]}x{target.shape[0]}.")
        names.append(name)
        photos.append(photo)
        truths.append(target)
    return names, np.stack(photos), np.stack(truths)


def score(predictions: np.ndarray, truths: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of uint8 predictions against uint8 truths, with the PSNR's
    standard error over images (the scale of differences that are noise)."""
    pred, truth = to_float(tf.constant(predictions)), to_float(tf.constant(truths))
    psnr = metrics.psnr(pred, truth)
    sem = float(np.std(psnr, ddof=1) / math.sqrt(len(psnr))) if len(psnr) > 1 else 0.0
    return {"psnr": float(np.mean(psnr)), "ssim": float(np.mean(metrics.ssim(pred, truth))),
            "psnr_sem": sem}


def score_unit(images: np.ndarray, truths: np.ndarray) -> dict[str, float]:
    """`score` of float RGB images in [0, 1] (rounded to uint8 first, clipped)."""
    return score(np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8), truths)


def colour_map_ceiling(photos: np.ndarray, truths: np.ndarray) -> dict[str, float]:
    """The score of the best single affine colour map (RGB -> RGB, fitted to the truth by
    least squares over every test pixel): what a generator that only recolours pixels, the
    same way everywhere, can reach at most. Not a method (it sees the answer), a scale."""
    pixels = photos.reshape(-1, 3).astype(np.float64) / 255.0
    features = np.concatenate([pixels, np.ones((len(pixels), 1))], axis=1)
    weights = np.linalg.lstsq(features, truths.reshape(-1, 3) / 255.0, rcond=None)[0]
    return score_unit((features @ weights).reshape(photos.shape), truths)


def tone_and_colour_split(photos: np.ndarray, truths: np.ndarray) -> dict[str, dict[str, float]]:
    """Where the gap between copying and the truth lies: tone or colour.

    Each image is split into luminance (BT.601) and chroma (RGB minus luminance).
    'truth_tone' is the truth's luminance with the photo's chroma; 'truth_colour' is the
    photo's luminance with the truth's chroma. Like the colour-map ceiling these see the
    answer: scales, not methods.
    """
    photo, truth = photos / 255.0, truths / 255.0
    photo_luma, truth_luma = (photo @ LUMA)[..., None], (truth @ LUMA)[..., None]
    return {"truth_tone": score_unit(truth_luma + photo - photo_luma, truths),
            "truth_colour": score_unit(photo_luma + truth - truth_luma, truths)}


def _palette_pixels(folder: str) -> np.ndarray:
    """Up to PALETTE_IMAGES images of `folder` (evenly spaced), as float64 RGB pixels [P, 3].
    Files that cannot be decoded are skipped, as training skips them."""
    paths = list_images(folder)
    step = max(1, len(paths) // PALETTE_IMAGES)
    pixels = []
    for path in paths[::step][:PALETTE_IMAGES]:
        try:
            pixels.append(_read_rgb(path).reshape(-1, 3))
        except (OSError, ValueError):
            continue
    if not pixels:
        raise BenchmarkError(f"{folder!r} holds no image that can be decoded.")
    return np.concatenate(pixels).astype(np.float64) / 255.0


def palette_transfer(bench_dir: str, photos: np.ndarray,
                     truths: np.ndarray) -> dict[str, float]:
    """The score of matching the other folder's palette and nothing else.

    The linear colour map (Monge-Kantorovich: the symmetric one, which moves colours least)
    that gives trainA's pixels trainB's colour mean and covariance, applied to the test
    photos. It sees no truth: it is what a generator that learned only "look like the
    trainB folder's colours" would score. When it scores below copying, the folders'
    subjects differ in colour, and an adversarial loss that matches their palettes pulls
    the generator away from the true translation.
    """
    source = _palette_pixels(os.path.join(bench_dir, "trainA"))
    target = _palette_pixels(os.path.join(bench_dir, "trainB"))
    covariance_a, covariance_b = np.cov(source.T), np.cov(target.T)
    root_a = metrics.symmetric_sqrt(covariance_a)
    inverse_root_a = np.linalg.pinv(root_a)
    middle = metrics.symmetric_sqrt(root_a @ covariance_b @ root_a)
    matrix = inverse_root_a @ middle @ inverse_root_a
    pixels = photos.reshape(-1, 3).astype(np.float64) / 255.0
    mapped = (pixels - source.mean(axis=0)) @ matrix.T + target.mean(axis=0)
    return score_unit(mapped.reshape(photos.shape), truths)


def transfer_starts(config: Config, photos: np.ndarray,
                    truths: np.ndarray) -> dict[str, dict[str, float]]:
    """The scores of where a generator with --color_transfer starts, by mode ('levels',
    'tone'): trainA's colours mapped to trainB's (`cyclegan_tf.data.color_transfer`,
    measured as training measures them) on the test photos. They see no truth.

    Args:
        config: The run's configuration, reading the benchmark (`benchmark_config`).
    """
    data = UnpairedData(config)
    colours_a = color_transfer.colour_statistics(data.train_a, config)
    colours_b = color_transfer.colour_statistics(data.train_b, config)
    starts = {}
    for mode in ("levels", "tone"):
        mapped = color_transfer.transfer_map(colours_a, colours_b, mode).apply(
            photos / 127.5 - 1.0)
        starts[mode] = score_unit((mapped + 1.0) / 2.0, truths)
    return starts


def translate_all(translator: Translator, photos: np.ndarray) -> np.ndarray:
    """G(photos) in batches, uint8 in and out."""
    return np.concatenate([translator.translate_batch(photos[i:i + TRANSLATE_BATCH])
                           for i in range(0, len(photos), TRANSLATE_BATCH)])


def side_by_side(photos: np.ndarray, outputs: np.ndarray, truths: np.ndarray,
                 rows: int = 6, gap: int = 2) -> np.ndarray:
    """A picture of `rows` test images: input | output | ground truth on each row."""
    rows = min(rows, len(photos))
    height, width = photos.shape[1:3]
    picture = np.full((rows * (height + gap) - gap, 3 * (width + gap) - gap, 3), 255, np.uint8)
    for row in range(rows):
        for column, images in enumerate((photos, outputs, truths)):
            top, left = row * (height + gap), column * (width + gap)
            picture[top:top + height, left:left + width] = images[row]
    return picture


def benchmark_config(config: Config, bench_dir: str, run_dir: str, steps: int) -> Config:
    """`config` reading the benchmark's folders and writing to `run_dir`.

    With a constant learning rate its epochs are raised when needed so that `steps` fit
    (the budget, not the epochs, ends the run); a decaying schedule keeps its epochs, as
    they set its length, and may end before the budget. Evaluation during training is left
    to the harness.
    """
    per_epoch = max(len(list_images(os.path.join(bench_dir, d))) for d in ("trainA", "trainB"))
    per_epoch = math.ceil(per_epoch / config.batch_size)
    if config.steps_per_epoch:
        per_epoch = min(per_epoch, config.steps_per_epoch)
    epochs = config.epochs
    if config.lr_schedule == "constant":
        epochs = max(epochs, math.ceil(steps / per_epoch) + 1 if steps else 1000)
    return config.replace(data_dir=bench_dir, layout="trainAB", output_dir=run_dir,
                          epochs=epochs, eval_every_epochs=0, keep_best="", eval_fid=False)


def run_benchmark(config: Config, bench_dir: str, output_dir: str, steps: int = 0,
                  minutes: float = 0.0, evaluations: int = 4, out: TextIO = sys.stdout,
                  notes: Sequence[str] = ()) -> dict[str, Any]:
    """Trains `config` on the benchmark for a budget, scores it, and writes the results.

    Args:
        config: What to train (a preset plus overrides); its data and output folders are
            replaced by the benchmark's and `output_dir/run`.
        bench_dir: The benchmark folder (see the module docstring).
        output_dir: Where the run, `quality.json`, `pred/` and the picture go. Running again
            with the same folder resumes the run (the budget is the total).
        steps: The budget in training steps; or
        minutes: the budget in minutes of the training loop (model building and the
            harness's own evaluations are not counted).
        evaluations: Scorings during training, at equal parts of the budget.
        out: Where training progress and the scores go.
        notes: Free text stored in the results (e.g. the command line).

    Returns:
        The results written to `output_dir/quality.json`.
    """
    if bool(steps) == bool(minutes):
        raise BenchmarkError("Give exactly one budget: --steps=N or --minutes=M.")
    if steps < 0 or minutes < 0 or evaluations < 1:
        raise BenchmarkError("--steps, --minutes and --evaluations must be positive.")
    names, photos, truths = load_test_pairs(bench_dir)
    copying = score(photos, truths)
    print(f"Copying the input scores PSNR {copying['psnr']:.2f} dB, SSIM {copying['ssim']:.3f} "
          f"on {len(names)} test images.", file=out)
    ceiling = colour_map_ceiling(photos, truths)
    print(f"The best single colour map (fitted to the truth; a scale, not a method) scores "
          f"PSNR {ceiling['psnr']:.2f} dB ({ceiling['psnr'] - copying['psnr']:+.2f}), SSIM "
          f"{ceiling['ssim']:.3f}.", file=out)
    split = tone_and_colour_split(photos, truths)
    print(f"Where the gap lies (truth-based scales): the true tones with the input's colours "
          f"score {split['truth_tone']['psnr'] - copying['psnr']:+.2f} dB, the input's tones "
          f"with the true colours {split['truth_colour']['psnr'] - copying['psnr']:+.2f} dB.",
          file=out)
    palette = palette_transfer(bench_dir, photos, truths)
    print(f"Matching trainB's palette (the colour mean and covariance, no truth) scores PSNR "
          f"{palette['psnr']:.2f} dB ({palette['psnr'] - copying['psnr']:+.2f}), SSIM "
          f"{palette['ssim']:.3f}.", file=out)
    run_dir = os.path.join(output_dir, "run")
    config = benchmark_config(config, bench_dir, run_dir, steps)
    starts = transfer_starts(config, photos, truths)
    for mode, start in starts.items():
        print(f"The {mode} transfer (trainA's colours to trainB's, no truth; where "
              f"--color_transfer={mode} starts) scores PSNR {start['psnr']:.2f} dB "
              f"({start['psnr'] - copying['psnr']:+.2f}), SSIM {start['ssim']:.3f}.", file=out)
    history: list[dict[str, Any]] = []
    wall_seconds = 0.0
    for part in range(1, evaluations + 1):
        started = time.perf_counter()
        if steps:
            result = train(config, out=out, max_steps=math.ceil(steps * part / evaluations))
        else:
            result = train(config, out=out, max_seconds=60.0 * minutes / evaluations)
        wall_seconds += time.perf_counter() - started
        if result.status == "interrupted" and not result.reached_limit:
            raise BenchmarkInterrupted(f"Training stopped by {result.reason}; run the same "
                                    "command again to resume.")
        if result.finished and part < evaluations:
            print(f"The run finished its {config.epochs} epochs before the budget.", file=out)
        scores = score(translate_all(Translator(run_dir, precision="float32"), photos), truths)
        history.append({"step": result.step, "wall_seconds": round(wall_seconds, 1),
                        **scores})
        print(f"Step {result.step} ({wall_seconds / 60:.1f} min): PSNR {scores['psnr']:.2f} dB "
              f"({scores['psnr'] - copying['psnr']:+.2f} vs copying), SSIM {scores['ssim']:.3f}",
              file=out)
    export_dir = os.path.join(output_dir, "savedmodel")
    export_generator(run_dir, export_dir, out=out)
    outputs = translate_all(Translator(export_dir, precision="float32"), photos)
    final = score(outputs, truths)
    for name, image in zip(names, outputs):
        save_png(image, os.path.join(output_dir, "pred", name + ".png"))
    picture = save_png(side_by_side(photos, outputs, truths),
                       os.path.join(output_dir, PICTURE_FILE))
    results = {
        "bench": os.path.abspath(bench_dir),
        "budget": {"steps": steps, "minutes": minutes},
        "steps": history[-1]["step"],
        "wall_seconds": round(wall_seconds, 1),
        "seconds_per_step": round(wall_seconds / max(history[-1]["step"], 1), 4),
        "copying": copying,
        "colour_map_ceiling": ceiling,
        "palette_transfer": palette,
        **{f"{mode}_transfer": start for mode, start in starts.items()},
        **split,
        "history": history,
        "final": final,
        "savedmodel": export_dir,
        "picture": picture,
        "config": config.to_dict(),
        "machine": machine(),
        "notes": list(notes),
    }
    atomic_write_json(os.path.join(output_dir, RESULT_FILE), results)
    print(f"SavedModel score: PSNR {final['psnr']:.2f} dB ({final['psnr'] - copying['psnr']:+.2f} "
          f"vs copying {copying['psnr']:.2f}), SSIM {final['ssim']:.3f} (copying "
          f"{copying['ssim']:.3f}). Wrote {os.path.join(output_dir, RESULT_FILE)} and {picture}.",
          file=out)
    return results
