"""Evaluate a trained CycleGAN on test images, and write the numbers beside the run.

Translates the test images of both domains both ways and reports (see `metrics`):

* always: cycle reconstruction L1 and PSNR (`cycle_*_a`: A vs F(G(A)); `cycle_*_b`: B vs
  G(F(B))) and identity drift (`identity_l1_a`: F(A) vs A; `identity_l1_b`: G(B) vs B);
* with `--truth_b`: `paired_psnr`, `paired_ssim`, `paired_l1` of G(A) against the B image of
  the same file name (extension aside);
* with `--fid` (or `--inception_weights`): FID and KID (mean and std over subsets) of G(A)
  vs the real B images (`fid_b`, `kid_b`) and of F(B) vs the real A images (`fid_a`, `kid_a`).

Images are resized to the run's image size, as in training. The test images are the run's
(from its config) unless `--input_a` / `--input_b` name folders. `--model` takes a SavedModel
folder exported by `python -m cyclegan_tf.export --direction both` (its `a2b/` and `b2a/`
signatures `translate_float`). The table is printed and written, with the checkpoint step and
the config, to `RUN/eval/metrics.json` (`--output_dir` to change; `SAVEDMODEL_eval/` for a
SavedModel).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any, TextIO

import tensorflow as tf

from cyclegan_tf.core import configs, metrics
from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.files import atomic_write_json
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.data.pipeline import (
    DataError,
    UnpairedData,
    file_source,
    find_domain_files,
    list_images,
    preprocess_test,
)
from cyclegan_tf.data.scan import ScanResult, scan_images
from cyclegan_tf.inference import export
from cyclegan_tf.inference.generators import DIRECTIONS, load_run

METRICS_FILE = "metrics.json"


class EvaluationError(ValueError):
    """Arguments, models or test images that cannot be evaluated."""


# The generators. ------------------------------------------------------------------------


@dataclasses.dataclass
class Generators:
    """Both generators of a model, behind one `translate(images, 'a2b'|'b2a')`."""

    translate: metrics.Translate
    config: Config
    step: int
    source: str  # The checkpoint or SavedModel they came from.


def load_checkpoint_generators(run_dir: str, checkpoint: str = "") -> Generators:
    """G and F of a training run, from its latest checkpoint or `checkpoint`."""
    run = load_run(run_dir, DIRECTIONS, checkpoint)

    def translate(images: tf.Tensor, direction: str) -> tf.Tensor:
        return tf.cast(run.generators[direction](images, training=False), tf.float32)

    return Generators(translate, run.config, run.step, run.checkpoint)


def load_saved_model_generators(model_dir: str) -> Generators:
    """G and F of a `--direction both` export: `model_dir/a2b` and `model_dir/b2a`."""
    folders = {d: os.path.join(model_dir, d) for d in DIRECTIONS}
    if not all(os.path.exists(os.path.join(f, export.SAVED_MODEL_FILE)) for f in folders.values()):
        one_way = os.path.exists(os.path.join(model_dir, export.SAVED_MODEL_FILE))
        raise EvaluationError(
            f"--model={model_dir!r} " + ("holds one generator only" if one_way else
                                         "is not a SavedModel folder") +
            "; evaluation needs both: export with `python -m cyclegan_tf.export --run_dir RUN "
            "--direction both --output DIR` and pass --model=DIR (or use --run_dir=RUN).")
    functions = {d: tf.saved_model.load(f).signatures["translate_float"]
                 for d, f in folders.items()}
    info_path = os.path.join(folders["a2b"], "assets", export.EXPORT_INFO)
    with open(info_path) as f:
        step = int(json.load(f).get("step", -1))

    def translate(images: tf.Tensor, direction: str) -> tf.Tensor:
        return functions[direction](images=tf.cast(images, tf.float32))["images"]

    return Generators(translate, configs.load_config(folders["a2b"]), step,
                      os.path.abspath(model_dir))


# The test images. -----------------------------------------------------------------------


@dataclasses.dataclass
class EvalImages:
    """Batched test images in [-1, 1] of both domains, and (A, truth B) pairs if any."""

    a: tf.data.Dataset
    b: tf.data.Dataset
    counts: dict[str, int]
    pairs: tf.data.Dataset | None = None


def _folder_images(files: list[str], config: Config, name: str,
                   scan: ScanResult) -> tf.data.Dataset:
    """Decoded test images of `files` (all usable per `scan`), resized as in training."""
    return file_source(files, config, name, scan.pillow_files).images().map(
        lambda image: preprocess_test(image, config), num_parallel_calls=tf.data.AUTOTUNE)


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def match_truth(files_a: list[str], truth_folder: str) -> list[tuple[str, str]]:
    """(A file, truth file) pairs whose names agree apart from the extension."""
    truth = {_stem(path): path for path in list_images(truth_folder)}
    pairs = [(path, truth[_stem(path)]) for path in files_a if _stem(path) in truth]
    if not pairs:
        raise EvaluationError(
            f"--truth_b={truth_folder!r}: no file has the name of a domain A test image (e.g. "
            f"{os.path.basename(files_a[0])}); ground truth is matched by file name.")
    return pairs


def _usable_files(files: dict[str, list[str]], pairs: list[tuple[str, str]]
                  ) -> tuple[dict[str, list[str]], list[tuple[str, str]], ScanResult]:
    """Leaves out (and reports) files that cannot be decoded, as training does."""
    scan = scan_images([path for paths in files.values() for path in paths]
                       + [truth for _, truth in pairs])
    for path, reason in scan.skipped.items():
        print(f"Skipping {path}: {reason}", file=sys.stderr)
    usable = {domain: scan.usable(paths) for domain, paths in files.items()}
    for domain, paths in usable.items():
        if not paths:
            raise DataError(f"None of the {len(files[domain])} domain {domain.upper()} test "
                            f"images can be decoded (see the messages above).")
    bad = set(scan.skipped)
    return usable, [(a, b) for a, b in pairs if a not in bad and b not in bad], scan


def load_test_images(config: Config, input_a: str = "", input_b: str = "", truth_b: str = "",
                     batch_size: int = 8) -> EvalImages:
    """The test images: from `input_a`/`input_b` folders, else the run's test split."""
    files = {domain: list_images(folder)
             for domain, folder in (("a", input_a), ("b", input_b)) if folder}
    if len(files) < 2 and not config.tfds:
        split_a, split_b = find_domain_files(config)
        files = {"a": split_a.test, "b": split_b.test, **files}
    pairs = match_truth(files["a"], truth_b) if truth_b and "a" in files else []
    files, pairs, scan = _usable_files(files, pairs)
    data = UnpairedData(config) if len(files) < 2 else None  # TFDS test splits.
    datasets, counts = {}, {}
    for domain in "ab":
        if domain in files:
            datasets[domain] = _folder_images(files[domain], config, domain, scan).batch(batch_size)
            counts[domain] = len(files[domain])
        else:
            datasets[domain] = data.test_dataset(domain, batch_size)
            counts[domain] = (data.test_a if domain == "a" else data.test_b).length
    images = EvalImages(datasets["a"], datasets["b"], counts)
    if truth_b:
        if "a" not in files:
            raise EvaluationError(f"--truth_b needs domain A test images as files; the run "
                                  f"reads --tfds={config.tfds}, so pass --input_a=FOLDER.")
        images.pairs = tf.data.Dataset.zip(
            _folder_images([a for a, _ in pairs], config, "a", scan),
            _folder_images([b for _, b in pairs], config, "truth_b", scan)).batch(batch_size)
        images.counts["paired"] = len(pairs)
    return images


# Evaluation. ----------------------------------------------------------------------------


def format_table(values: dict[str, float]) -> str:
    """The metrics as an aligned table: name, value, and which way is better."""
    width = max(len("metric"), *map(len, values))
    lines = [f"{'metric':<{width}}  {'value':>10}  better"]
    for name, value in values.items():
        better = "higher" if metrics.higher_is_better(name) else "lower"
        lines.append(f"{name:<{width}}  {value:>10.4f}  {'' if name.endswith('_std') else better}")
    return "\n".join(lines)


def _check_arguments(run_dir: str, model: str, input_a: str, input_b: str,
                     checkpoint: str) -> None:
    if bool(run_dir) == bool(model):
        raise EvaluationError("Pass exactly one of --run_dir (a training run) and --model "
                              "(a SavedModel exported with --direction both).")
    if model and not (input_a and input_b):
        raise EvaluationError("--model needs the test images: pass --input_a and --input_b.")
    if model and checkpoint:
        raise EvaluationError("--checkpoint picks a checkpoint of --run_dir; a --model has one.")


def evaluate_run(run_dir: str = "", *, model: str = "", checkpoint: str = "", input_a: str = "",
                 input_b: str = "", truth_b: str = "", fid: bool = False,
                 inception_weights: str = "", output_dir: str = "", batch_size: int = 8,
                 extractor: metrics.InceptionFeatures | None = None,
                 out: TextIO = sys.stdout) -> dict[str, Any]:
    """Evaluates a run (or SavedModel), prints the table, writes and returns the report.

    Args:
        run_dir: A training run folder; or give `model`, a `--direction both` export.
        checkpoint: With `run_dir`, a checkpoint prefix or folder (e.g. RUN/best) to evaluate
            instead of the latest.
        input_a, input_b: Folders of test images replacing the run's test split.
        truth_b: A folder of ground-truth B images named like the A test images.
        fid: Also compute FID and KID; implied by `inception_weights` or `extractor`.
        inception_weights: The InceptionV3 weights file; default the Keras cache.
        output_dir: Where `metrics.json` goes; default RUN/eval or SAVEDMODEL_eval.
        batch_size: Images per translation batch.
        extractor: A ready feature extractor (tests pass one with random weights).
        out: Where the table goes.

    Returns:
        The report written to `metrics.json`: metrics, step, source, image counts, inputs,
        Inception weights (path and MD5) and the config.

    Raises:
        EvaluationError, ConfigError (incl. `metrics.InceptionWeightsError`), DataError or
        export.ExportError, each naming the flag or file at fault.
    """
    _check_arguments(run_dir, model, input_a, input_b, checkpoint)
    weights = None
    if extractor is None and (fid or inception_weights):
        weights = metrics.find_inception_weights(inception_weights)  # Fails before any work.
    generators = (load_saved_model_generators(model) if model
                  else load_checkpoint_generators(run_dir, checkpoint))
    try:
        images = load_test_images(generators.config, input_a, input_b, truth_b, batch_size)
    except DataError as error:
        raise DataError(f"{error} (Test images come from the run's config.json unless "
                        "--input_a and --input_b name folders.)") from error
    if weights:
        extractor = metrics.InceptionFeatures(weights)
    values = metrics.translation_metrics(generators.translate, images.a, images.b, extractor,
                                         seed=generators.config.seed)
    if images.pairs is not None:
        values.update(metrics.paired_metrics(generators.translate, images.pairs))
    report = {
        "metrics": values,
        "step": generators.step,
        "source": generators.source,
        "images": images.counts,
        "inputs": {"input_a": input_a, "input_b": input_b, "truth_b": truth_b},
        "inception_weights": _weights_info(extractor),
        "config": generators.config.to_dict(),
    }
    path = _write_report(report, output_dir or (RunFolder(run_dir).eval if run_dir
                                                else model.rstrip("/") + "_eval"))
    counts = ", ".join(f"{n} {name}" for name, n in images.counts.items())
    print(f"Evaluated {generators.source} (step {generators.step}) on {counts} images:\n"
          f"{format_table(values)}\nWrote {path}", file=out)
    return report


def _weights_info(extractor: metrics.InceptionFeatures | None) -> dict[str, str] | None:
    if extractor is None:
        return None
    if extractor.weights is None:
        return {"path": "", "md5": "", "note": "random weights: FID/KID are not comparable"}
    return {"path": os.path.abspath(extractor.weights), "md5": metrics.file_md5(extractor.weights)}


def _write_report(report: dict[str, Any], output_dir: str) -> str:
    return atomic_write_json(os.path.join(output_dir, METRICS_FILE), report)
