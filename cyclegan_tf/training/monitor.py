"""Monitoring during training: metrics on a fixed test subset, the best checkpoint, hparams.

The training loop makes one `TrainingMonitor`, logs the run's hyper-parameters with
`log_hparams`, and calls `TrainingMonitor.evaluate_if_due` after every epoch. Every `--eval_every_epochs`
epochs (and after the last) the monitor runs `metrics.translation_metrics` on the first
`--eval_images` test images of each domain, logs them as TensorBoard scalars `eval/<metric>`,
and with `--keep_best` keeps the best checkpoint in `OUTPUT_DIR/best/` with `best.json`.
The hyper-parameters and the last value of every scalar make TensorBoard's HParams tab.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from cyclegan_tf.core import metrics
from cyclegan_tf.core.checkpoints import BestCheckpoint
from cyclegan_tf.core.configs import Config
from cyclegan_tf.data.pipeline import UnpairedData
from cyclegan_tf.training.trainer import CycleGAN

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
        self.best = (BestCheckpoint(model.checkpoint(), best_dir, config.keep_best,
                                    metrics.higher_is_better(config.keep_best))
                     if config.keep_best else None)

    def is_due(self, epoch: int) -> bool:
        """Whether to evaluate after `epoch` (1-based) epochs: every N, and after the last."""
        every = self.config.eval_every_epochs
        return self.enabled and (epoch % every == 0 or epoch == self.config.epochs)

    def evaluate_if_due(self, epoch: int, writer: tf.summary.SummaryWriter,
                        say: Callable[[str], None] = print) -> dict[str, float]:
        """Evaluates if due: logs `eval/<metric>` scalars, keeps the best checkpoint (telling
        `say` about it), and returns the metrics ({} when not due)."""
        if not self.is_due(epoch):
            return {}
        values = metrics.translation_metrics(self.model.translate, self.images["a"],
                                             self.images["b"], self.extractor,
                                             seed=self.config.seed)
        step = int(self.model.step)
        with writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(f"eval/{name}", value)
        if self.best is not None:
            path = self.best.update(values[self.best.metric], step, epoch)
            if path:
                say(f"Best {self.best.metric} so far ({values[self.best.metric]:.4g}): {path}")
        return values
