"""Monitoring during training: metrics on a fixed test subset, the best checkpoint, hparams.

`train.py` makes one `TrainingMonitor`, logs the run's hyper-parameters with `log_hparams`,
and calls `TrainingMonitor.end_of_epoch` after every epoch. Every `--eval_every_epochs`
epochs (and after the last) the monitor runs `metrics.translation_metrics` on the first
`--eval_images` test images of each domain, logs them as TensorBoard scalars `eval/<metric>`,
and with `--keep_best` keeps the best checkpoint in `OUTPUT_DIR/best/` with `best.json`.
The hyper-parameters and the last value of every scalar make TensorBoard's HParams tab.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, TextIO

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from cyclegan_tf import metrics
from cyclegan_tf.configs import Config
from cyclegan_tf.input_pipeline import UnpairedData
from cyclegan_tf.trainer import CycleGAN

BEST_FILE = "best.json"
EVAL_BATCH_SIZE = 8


def log_hparams(writer: tf.summary.SummaryWriter, config: Config, run_name: str) -> None:
    """Writes the run's configuration as a TensorBoard hparams session named `run_name`."""
    values = {name: value if isinstance(value, (bool, int, float, str))
              else ",".join(map(str, value)) for name, value in config.to_dict().items()}
    with writer.as_default():
        hp.hparams(values, trial_id=run_name)


def fixed_subset(data: UnpairedData, domain: str, count: int,
                 batch_size: int = EVAL_BATCH_SIZE) -> tf.data.Dataset:
    """The first `count` test images of `domain` (all when 0), in batches."""
    images = data.test_dataset(domain, batch_size=1).unbatch()
    if count:
        images = images.take(count)
    return images.batch(batch_size)


class BestCheckpoint:
    """The checkpoint with the best value of one metric, in its own folder beside the latest.

    `best.json` (step, epoch, metric, value) sits beside the checkpoint, so the best value
    survives a restart. Higher is better for PSNR and SSIM, lower for L1, FID and KID.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, directory: str, metric: str):
        self.metric = metric
        self.path = os.path.join(directory, BEST_FILE)
        self.manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=1,
                                                  checkpoint_name="ckpt")
        self.record = self._read()

    def _read(self) -> dict[str, Any] | None:
        if not os.path.exists(self.path):
            return None
        with open(self.path) as f:
            record = json.load(f)
        # A record of another metric (the user changed --keep_best) does not compare.
        return record if record.get("metric") == self.metric else None

    def is_better(self, value: float) -> bool:
        """Whether `value` beats the best so far (any finite value beats none; NaN never wins)."""
        if not math.isfinite(value):
            return False
        if self.record is None:
            return True
        best = self.record["value"]
        return value > best if metrics.higher_is_better(self.metric) else value < best

    def update(self, value: float, step: int, epoch: int) -> str:
        """Saves the checkpoint and `best.json` if `value` is the best; returns the checkpoint
        path, or "" when it is not."""
        if not self.is_better(value):
            return ""
        path = self.manager.save(checkpoint_number=step)
        self.record = {"step": step, "epoch": epoch, "metric": self.metric, "value": value,
                       "checkpoint": os.path.basename(path)}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.record, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.path)
        return path


class TrainingMonitor:
    """The in-training evaluation of one run (a no-op when `--eval_every_epochs` is 0).

    With `--eval_fid` the Inception weights are looked up and loaded here, so a missing
    weights file is reported before training starts.
    """

    def __init__(self, config: Config, data: UnpairedData, model: CycleGAN, best_dir: str):
        self.config = config
        self.model = model
        self.enabled = config.eval_every_epochs > 0
        self.extractor = None
        if self.enabled and config.eval_fid:
            weights = metrics.find_inception_weights(config.inception_weights)
            self.extractor = metrics.InceptionFeatures(weights)
        self.images = {domain: fixed_subset(data, domain, config.eval_images)
                       for domain in "ab"} if self.enabled else {}
        self.best = (BestCheckpoint(model.checkpoint(), best_dir, config.keep_best)
                     if config.keep_best else None)

    def is_due(self, epoch: int) -> bool:
        """Whether to evaluate after `epoch` (1-based) epochs: every N, and after the last."""
        every = self.config.eval_every_epochs
        return self.enabled and (epoch % every == 0 or epoch == self.config.epochs)

    def end_of_epoch(self, epoch: int, writer: tf.summary.SummaryWriter,
                     out: TextIO) -> dict[str, float]:
        """Evaluates if due: logs `eval/<metric>` scalars, keeps the best checkpoint, and
        returns the metrics ({} when not due)."""
        if not self.is_due(epoch):
            return {}
        values = metrics.translation_metrics(self.model.translate, self.images["a"],
                                             self.images["b"], self.extractor,
                                             seed=self.config.seed)
        step = int(self.model.step)
        with writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(f"eval/{name}", value)
        print(f"Eval after epoch {epoch}: "
              + " ".join(f"{name} {value:.4g}" for name, value in values.items()), file=out)
        if self.best is not None:
            path = self.best.update(values[self.best.metric], step, epoch)
            if path:
                print(f"Best {self.best.metric} so far ({values[self.best.metric]:.4g}): {path}",
                      file=out)
        return values
