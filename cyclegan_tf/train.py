"""Train a CycleGAN on two folders of images (or a TFDS cycle_gan dataset).

    python -m cyclegan_tf.train --domain_a tom --domain_b jerry [--preset NAME] [flags]

Everything a run makes goes into --output_dir (default runs/<domain_a>2<domain_b>):
config.json, checkpoints/, logs/ (TensorBoard), samples/ and curves.png. Running the same
command again resumes from the latest checkpoint. `--list_presets` lists the presets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import math
import os
import re
import signal
import sys
import threading
import time
from typing import Iterator, TextIO

import tensorflow as tf
from absl import app, flags

from cyclegan_tf import cli, configs, distribute, plot, samples
from cyclegan_tf.configs import Config, ConfigError
from cyclegan_tf.data_scan import write_skipped_list
from cyclegan_tf.flags import config_from_flags, define_config_flags, expand_bare_flags
from cyclegan_tf.input_pipeline import DataError, UnpairedData
from cyclegan_tf.monitor import TrainingMonitor, log_hparams
from cyclegan_tf.profiling import StepProfiler
from cyclegan_tf.progress import ProgressBar, format_duration
from cyclegan_tf.trainer import NETWORKS, CycleGAN, checkpoint_manager


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the poisoned weights were not saved."""


class CheckpointError(RuntimeError):
    """The run folder holds checkpoints, but none of them can be restored."""


@dataclasses.dataclass
class TrainResult:
    """How a call to `train` ended."""

    output_dir: str
    step: int
    epoch: int
    losses: dict[str, float]
    status: str  # "finished", "already_finished" or "interrupted"


def run_paths(output_dir: str) -> dict[str, str]:
    """The files and folders a run writes, by role."""
    return {
        "checkpoints": os.path.join(output_dir, "checkpoints"),
        "logs": os.path.join(output_dir, "logs"),
        "samples": os.path.join(output_dir, "samples"),
        "config": os.path.join(output_dir, configs.CONFIG_FILENAME),
        "curves": os.path.join(output_dir, "curves.png"),
        "scan_cache": os.path.join(output_dir, "scan_cache.json"),
        "skipped_files": os.path.join(output_dir, "skipped_files.txt"),
        "best": os.path.join(output_dir, "best"),
    }


class StopRequest:
    """Turns SIGINT and SIGTERM into a request to stop after the current step.

    A second SIGINT while stopping raises KeyboardInterrupt, for a user who cannot wait.
    """

    def __init__(self) -> None:
        self.signal_name = ""

    def __bool__(self) -> bool:
        return bool(self.signal_name)

    def _handle(self, signum: int, frame: object) -> None:
        del frame
        if self.signal_name and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name

    @contextlib.contextmanager
    def installed(self) -> Iterator["StopRequest"]:
        """Handles the signals inside the block (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def saved_checkpoints(directory: str) -> list[str]:
    """The checkpoint prefixes in `directory`, newest (highest number) first.

    Read from the files themselves, not from TensorFlow's `checkpoint` state file, which a
    crash or power loss can leave empty or pointing at a checkpoint that was never finished.
    """
    numbered = []
    for index in glob.glob(os.path.join(glob.escape(directory), "ckpt-*.index")):
        match = re.fullmatch(r"(.*ckpt-(\d+))\.index", index)
        if match:
            numbered.append((int(match.group(2)), match.group(1)))
    return [prefix for _, prefix in sorted(numbered, reverse=True)]


def _set_aside_unreadable_state(directory: str, out: TextIO) -> None:
    """Renames a `checkpoint` state file that TensorFlow cannot parse (a torn write)."""
    state = os.path.join(directory, "checkpoint")
    try:
        tf.train.get_checkpoint_state(directory)
    except ValueError:
        os.replace(state, state + ".unreadable")
        print(f"{state} was unreadable (moved to {state}.unreadable); looking for "
              "checkpoints by file name.", file=out)


def _restore(model: CycleGAN, manager: tf.train.CheckpointManager, out: TextIO) -> None:
    """Restores the newest checkpoint that restores cleanly, saying which ones were damaged.

    A kill or power loss during a save can leave the newest checkpoint incomplete; the one
    before it is then used, so at most one more checkpoint interval is lost.
    """
    candidates = saved_checkpoints(manager.directory)
    for path in candidates:
        try:
            manager.checkpoint.restore(path).assert_existing_objects_matched()
        except Exception as error:  # noqa: BLE001 - damaged files raise many error types.
            print(f"Checkpoint {path} cannot be restored, it is incomplete or damaged "
                  f"({type(error).__name__}: {str(error).splitlines()[0][:200]}); trying the "
                  "one before it.", file=out)
            continue
        print(f"Resuming from {path}: step {int(model.step)}, epoch {int(model.epoch)} "
              f"(+{int(model.epoch_step)} steps).", file=out)
        return
    if candidates:
        raise CheckpointError(
            f"None of the {len(candidates)} checkpoints in {manager.directory} can be restored "
            "(see above). Move that folder away to start this run over, or use a new "
            "--output_dir."
        )


def _save(manager: tf.train.CheckpointManager, model: CycleGAN) -> str:
    """Saves a checkpoint of `model` unless a weight is NaN or infinite (then raises).

    Finite losses usually mean finite weights, but a non-finite gradient of a finite loss
    would poison the weights one step before any loss shows it.
    """
    bad = [name for name in NETWORKS
           if not all(bool(tf.reduce_all(tf.math.is_finite(v)))
                      for v in model.network(name).trainable_variables)]
    if bad:
        raise TrainingDiverged(
            f"Weights of {', '.join(bad)} became NaN or infinite at step {int(model.step)} "
            f"although the losses were finite; training stopped without saving them (the "
            f"latest checkpoint, {manager.latest_checkpoint}, is kept). Try a lower --lr."
        )
    return manager.save(checkpoint_number=int(model.step))


def _check_finite(values: dict[str, float], step: int, last_checkpoint: str | None) -> None:
    # `values` are the unscaled float32 losses. A float16 loss-scale overflow makes only the
    # scaled gradients non-finite: LossScaleOptimizer skips that update and lowers the scale,
    # so such steps never reach this check. A non-finite loss here is a real divergence.
    bad = [name for name, value in values.items() if not math.isfinite(value)]
    if bad:
        kept = f"the latest checkpoint, {last_checkpoint}, is" if last_checkpoint else "nothing was"
        raise TrainingDiverged(
            f"Loss {', '.join(bad)} became {values[bad[0]]} at step {step}; training stopped "
            f"without saving these weights ({kept} kept). Try a lower --lr, or "
            "--mixed_precision=off."
        )


def _write_samples(model: CycleGAN, test_a: tf.Tensor, test_b: tf.Tensor, epoch: int,
                   samples_dir: str, writer: tf.summary.SummaryWriter) -> str:
    grid = samples.sample_grid(model.translate, test_a, test_b)
    path = os.path.join(samples_dir, f"epoch_{epoch:04d}.png")
    samples.save_png(grid, path)
    with writer.as_default():
        tf.summary.image("samples/" + "|".join(samples.COLUMNS), grid[None], step=int(model.step))
    return path


def train(config: Config, out: TextIO = sys.stdout) -> TrainResult:
    """Trains (or resumes) the run described by `config`; see the module docstring."""
    config.validate()
    # Before anything else touches TensorFlow: multi-worker collectives are set up here.
    strategy = distribute.make_strategy(config.strategy)
    output_dir = distribute.worker_output_dir(config.resolved_output_dir, strategy)
    paths = run_paths(output_dir)
    if os.path.exists(paths["config"]) and saved_checkpoints(paths["checkpoints"]):
        config.check_resumable_with(configs.load_config(paths["config"]))

    # Scans the files (skipping undecodable ones) and fails on bad data before any model
    # is built.
    data = UnpairedData(config, paths["scan_cache"])
    write_skipped_list(data.scan.skipped, paths["skipped_files"])
    if data.scan.images:
        print(data.scan.summary(paths["skipped_files"]), file=out)
    steps_per_epoch = data.steps_per_epoch
    model = CycleGAN(config, steps_per_epoch, strategy=strategy)
    _set_aside_unreadable_state(paths["checkpoints"], out)
    manager = checkpoint_manager(model, paths["checkpoints"], config.keep_checkpoints)
    _restore(model, manager, out)
    configs.save_config(config, output_dir)

    def result(status: str, values: dict[str, float]) -> TrainResult:
        return TrainResult(output_dir, int(model.step), int(model.epoch), values, status)

    if int(model.epoch) >= config.epochs:
        print(f"Run {output_dir} already finished: step {int(model.step)}, epoch "
              f"{int(model.epoch)}/{config.epochs}. Raise --epochs to train longer.", file=out)
        return result("already_finished", {})

    monitor = TrainingMonitor(config, data, model, paths["best"])
    os.makedirs(paths["samples"], exist_ok=True)
    writer = tf.summary.create_file_writer(paths["logs"])
    with writer.as_default():
        tf.summary.text("config", f"```\n{config.to_json()}\n```", step=int(model.step))
    log_hparams(writer, config, os.path.basename(os.path.normpath(output_dir)))
    test_a = data.test_batch("a", config.num_samples)
    test_b = data.test_batch("b", config.num_samples)
    print(f"Training {config.preset or 'custom'} ({config.generator} generator, "
          f"{config.discriminator} discriminator, {model.policy}) on {data.train_a.name} "
          f"({data.train_a.length} images) and {data.train_b.name} ({data.train_b.length}); "
          f"{steps_per_epoch} steps per epoch, epochs {int(model.epoch) + 1}..{config.epochs}; "
          f"writing to {output_dir}.", file=out)

    values: dict[str, float] = {}
    started = time.perf_counter()
    profiler = StepProfiler(config.profile_range(), paths["logs"])
    with StopRequest().installed() as stop, contextlib.closing(profiler):
        for epoch in range(int(model.epoch), config.epochs):
            first_step = int(model.epoch_step)
            bar = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}",
                              items_per_step=config.batch_size)
            batches = data.train_dataset(epoch, first_step)
            for real_a, real_b in distribute.distribute_dataset(strategy, batches):
                profiler.before_step(int(model.step) + 1)
                values = {k: float(v) for k, v in model.train_step(real_a, real_b).items()}
                step = int(model.step)
                profiler.after_step(step)
                _check_finite(values, step, manager.latest_checkpoint)
                epoch_step = int(model.epoch_step)
                bar.update(epoch_step, {k: values[k] for k in ("gen_g", "gen_f", "disc_x",
                                                              "disc_y")})
                with writer.as_default(step=step):
                    for name, value in values.items():
                        tf.summary.scalar(("lr" if name == "lr" else f"loss/{name}"), value)
                    tf.summary.scalar("images_per_sec", bar.rate(epoch_step))
                if config.save_every_steps and step % config.save_every_steps == 0:
                    _save(manager, model)
                if stop:
                    bar.close(stopped=True)
                    path = _save(manager, model)
                    writer.flush()
                    print(f"Stopped by {stop.signal_name} at step {step} (epoch {epoch + 1}); "
                          f"saved {path}. Run the same command again to resume.", file=out)
                    return result("interrupted", values)
            bar.close()
            model.epoch.assign_add(1)
            model.epoch_step.assign(0)
            done = epoch + 1
            if done % config.sample_every_epochs == 0 or done == config.epochs:
                path = _write_samples(model, test_a, test_b, done, paths["samples"], writer)
                print(f"Samples: {path}", file=out)
            if done % config.save_every_epochs == 0 or done == config.epochs:
                print(f"Checkpoint: {_save(manager, model)}", file=out)
            monitor.end_of_epoch(done, writer, out)
    writer.flush()
    try:
        plot.plot_run(output_dir, paths["curves"])
    except ValueError:
        pass  # No scalars yet: nothing to plot.
    print(f"Finished {config.epochs} epochs at step {int(model.step)} in "
          f"{format_duration(time.perf_counter() - started)}. Samples in {paths['samples']}, "
          f"curves in {paths['curves']}; TensorBoard: tensorboard --logdir {paths['logs']}",
          file=out)
    return result("finished", values)


def list_presets() -> str:
    """The presets as an aligned table, one line each."""
    width = max(map(len, configs.PRESETS))
    return "\n".join(f"{name:<{width}}  {preset.description}"
                     for name, preset in configs.PRESETS.items())


def _train_or_list_presets() -> None:
    if flags.FLAGS.list_presets:
        print(list_presets())
    else:
        train(config_from_flags())


def run() -> None:
    """Console entry point."""
    define_config_flags()
    flags.DEFINE_bool("list_presets", False, "Print the presets with a description and exit.")
    app.run(cli.main_for("cyclegan_tf.train", _train_or_list_presets,
                         (ConfigError, DataError, TrainingDiverged, CheckpointError)),
            argv=expand_bare_flags(sys.argv))


if __name__ == "__main__":
    run()
