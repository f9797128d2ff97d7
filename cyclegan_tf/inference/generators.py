"""A run's generators for inference: built from its config.json, restored from a checkpoint.

Generator G translates A to B ('a2b') and F translates B to A ('b2a'). Only the
generators and the step counter are read from the checkpoint; a checkpoint that does not
restore (incomplete, damaged) falls back to the one before it, as training does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

import keras
import tensorflow as tf

from cyclegan_tf.core import checkpoints, configs, precision
from cyclegan_tf.core.checkpoints import AVERAGES
from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.inference.serving import size_rule, translate_float_images
from cyclegan_tf.nets.models import build_generator

DIRECTIONS = ("a2b", "b2a")
# Which of the run's generators translates in each direction (see training/trainer.py).
GENERATOR_NAMES = {"a2b": "generator_g", "b2a": "generator_f"}
# What an exported or in-memory generator may compute in (core.precision's vocabulary).
INFERENCE_PRECISIONS = ("float32", "bf16", "auto")


class ExportError(ValueError):
    """A run, checkpoint or output folder that cannot be exported from or to."""


@dataclasses.dataclass
class LoadedRun:
    """Generators restored from a run's checkpoint, with what they came from."""

    config: Config
    checkpoint: str
    step: int
    generators: dict[str, keras.Model]  # By direction: 'a2b' and/or 'b2a'.
    precision: str  # 'float32' or 'bf16': what the generators compute in.


def parse_direction(direction: str) -> tuple[str, ...]:
    """'a2b', 'b2a' or 'both' as the tuple of directions it stands for."""
    if direction == "both":
        return DIRECTIONS
    if direction not in DIRECTIONS:
        raise ExportError(f"--direction={direction!r} is not one of a2b, b2a, both.")
    return (direction,)


def inference_precision(name: str) -> str:
    """'float32' or 'bf16' for `name` (any spelling of float32, bf16 or auto).

    'auto' is bf16 on a CPU with native bfloat16 and float32 elsewhere.
    """
    mode = precision.canonical(name)
    if mode not in INFERENCE_PRECISIONS:
        raise ExportError(f"--precision={name!r} is not one of {', '.join(INFERENCE_PRECISIONS)}.")
    if mode == "auto":
        return "bf16" if precision.cpu_supports_bf16() else "float32"
    return mode


def load_run(run_dir: str, directions: Sequence[str] = DIRECTIONS, checkpoint: str = "",
             compute: str = "float32", out: TextIO = sys.stderr) -> LoadedRun:
    """Builds the run's generators for `directions` and restores their weights.

    Args:
        run_dir: A training run folder.
        directions: Which generators to build.
        checkpoint: A checkpoint prefix, or a folder of checkpoints (e.g. RUN/best); default
            the run's checkpoints, newest first.
        compute: The precision the generators compute in (see `inference_precision`).
        out: Where a passed-over damaged checkpoint is reported.

    Raises:
        ExportError, ConfigError: naming the run or checkpoint when they cannot be used.
    """
    compute = inference_precision(compute)
    run = RunFolder(run_dir)
    if not os.path.isdir(run_dir):
        raise ExportError(f"--run_dir={run_dir!r} does not exist; pass a training run folder "
                          "(the --output_dir of cyclegan_tf.train, e.g. runs/tom2jerry).")
    if not run.is_run():
        inside = sorted(os.listdir(run_dir))[:8]
        raise ExportError(f"--run_dir={run_dir!r} holds no {configs.CONFIG_FILENAME}, so it is "
                          f"not a run folder (it holds: {', '.join(inside) or 'nothing'}).")
    config = configs.load_config(run.config)
    try:
        candidates = checkpoints.candidates_for_export(run.checkpoints, checkpoint)
    except checkpoints.CheckpointError as error:
        raise ExportError(str(error)) from None
    # Checkpoint variables are float32 under every precision policy, so any run restores
    # into generators of either policy.
    with precision.policy_scope(precision.keras_policy(compute)):
        generators = {d: build_generator(config, GENERATOR_NAMES[d]) for d in directions}
    step = tf.Variable(0, dtype=tf.int64, name="step")
    # With --ema_decay the weight averages are what samples, evaluation and exports use.
    key = (lambda name: AVERAGES[name]) if config.ema_decay else (lambda name: name)
    restored = tf.train.Checkpoint(
        step=step, **{key(GENERATOR_NAMES[d]): model for d, model in generators.items()})

    def restore(path: str) -> None:
        restored.restore(path).expect_partial().assert_existing_objects_matched()

    try:
        path = checkpoints.restore_newest(candidates, restore, out)
    except checkpoints.CheckpointError as error:
        raise ExportError(f"{error} (The run's {config.generator} generator is described by "
                          f"{run.config}.)") from None
    if path != candidates[0]:
        print(f"Using {path}, the newest checkpoint that restores.", file=out)
    return LoadedRun(config, path, int(step), generators, compute)



def load_export(saved_model: str, compute: str = "float32") -> LoadedRun:
    """The generator of one of our SavedModel exports, rebuilt from its assets to compute in
    `compute` (see `inference_precision`), whatever precision the export computes in.

    The architecture comes from `assets/config.json`, the weights from the SavedModel's
    variables (in the generator's own order), and the rebuilt generator is checked against
    the SavedModel's `translate_float` on a probe image before it is returned.

    Raises:
        ExportError: naming the folder when it is not our export or does not match.
    """
    assets = os.path.join(saved_model, "assets")
    info_path = os.path.join(assets, "export.json")
    if not os.path.exists(os.path.join(saved_model, "saved_model.pb")) or not os.path.exists(
            os.path.join(assets, configs.CONFIG_FILENAME)):
        raise ExportError(f"--saved_model={saved_model!r} is not a cyclegan_tf SavedModel (it "
                          "needs saved_model.pb and assets/config.json); for an export of both "
                          "directions pass its a2b/ or b2a/ folder.")
    config = configs.load_config(os.path.join(assets, configs.CONFIG_FILENAME))
    with open(info_path) as f:
        info = json.load(f)
    direction = info.get("direction", "a2b")
    compute = inference_precision(compute)
    loaded = tf.saved_model.load(saved_model)
    with precision.policy_scope(precision.keras_policy(compute)):
        generator = build_generator(config, GENERATOR_NAMES[direction])
    saved = list(loaded.variables)
    if [tuple(v.shape) for v in saved] != [tuple(v.shape) for v in generator.variables]:
        raise ExportError(f"--saved_model={saved_model!r}: its variables do not match the "
                          f"generator its config.json describes; export it again from its run.")
    for variable, value in zip(generator.variables, saved):
        variable.assign(value)
    probe = tf.random.stateless_uniform([1, 37, 61, 3], [1, 2], -1.0, 1.0)
    expected = loaded.signatures["translate_float"](images=probe)["images"]
    rebuilt = translate_float_images(generator, probe, size_rule(config))
    exact = info.get("precision", "float32") == compute == "float32"
    tolerance = 1e-4 if exact else 0.1
    if float(tf.reduce_max(tf.abs(expected - rebuilt))) > tolerance:
        raise ExportError(f"--saved_model={saved_model!r}: the generator rebuilt from its "
                          "config.json does not compute what the SavedModel does; export it "
                          "again from its run.")
    return LoadedRun(config, str(info.get("checkpoint", "")), int(info.get("step", 0)),
                     {direction: generator}, compute)
