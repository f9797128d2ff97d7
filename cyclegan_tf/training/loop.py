"""The training loop: train (or resume) the run a `Config` describes.

Everything a run makes goes into its run folder (see `core.run_folder`); calling `train`
again with the same configuration resumes from the latest checkpoint. The loop holds the
run folder's lock, turns SIGINT and SIGTERM into a save-and-stop, reports progress on one
line (and to `callbacks`), writes TensorBoard summaries, sample grids and checkpoints, and
evaluates with `monitor`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

import tensorflow as tf

from cyclegan_tf.core import checkpoints, configs
from cyclegan_tf.core.configs import Config
from cyclegan_tf.core.files import printable_path
from cyclegan_tf.core.images import save_png
from cyclegan_tf.core.progress import ProgressBar, format_duration
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.data import color_transfer
from cyclegan_tf.data.pipeline import UnpairedData
from cyclegan_tf.training import curves, distribute, samples
from cyclegan_tf.training.monitor import TrainingMonitor, log_hparams
from cyclegan_tf.training.profiling import StepProfiler
from cyclegan_tf.training.trainer import NETWORKS, CycleGAN

SHOWN_LOSSES = {"gen_g": "G", "gen_f": "F", "disc_x": "DX", "disc_y": "DY"}


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the poisoned weights were not saved."""


@dataclasses.dataclass
class TrainResult:
    """How a call to `train` ended."""

    output_dir: str
    step: int
    epoch: int
    losses: dict[str, float]
    status: str  # "finished", "already_finished" or "interrupted"
    # What interrupted it: a signal's name, "a callback", or "the step limit (N)" /
    # "the time limit (S s)" for `max_steps` / `max_seconds`.
    reason: str = ""

    @property
    def reached_limit(self) -> bool:
        """Whether `max_steps` or `max_seconds` ended the call."""
        return self.reason.startswith(("the step limit", "the time limit"))

    @property
    def finished(self) -> bool:
        """Whether every epoch is done."""
        return self.status in ("finished", "already_finished")


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a training callback is told.

    `event` is "progress" (each time the progress line is redrawn), "epoch" (after an
    epoch's samples, checkpoint and evaluation) or "end". `losses` are the latest step's;
    `metrics` the evaluation's after an epoch, when there was one.
    """

    event: str
    step: int
    epoch: int  # Epochs completed.
    epochs: int
    steps_per_epoch: int
    losses: dict[str, float]
    images_per_sec: float
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    sample_grid: str = ""


# A callback gets each `Progress`; returning True asks the run to save and stop.
Callback = Callable[[Progress], "bool | None"]


class StopRequest:
    """Turns SIGINT and SIGTERM (or a callback) into a request to stop after the current step.

    A second SIGINT while stopping raises KeyboardInterrupt, for a user who cannot wait.
    """

    def __init__(self) -> None:
        self.reason = ""

    def __bool__(self) -> bool:
        return bool(self.reason)

    def _handle(self, signum: int, frame: object) -> None:
        del frame
        if self.reason and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
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


def _position(step: int, steps_per_epoch: int, epochs: int) -> str:
    """Where global `step` is, in the words every message uses: 'epoch E/N, step S/T'."""
    epoch, into = divmod(step, steps_per_epoch)
    if into == 0 and epoch:
        return f"end of epoch {epoch}/{epochs} (step {step})"
    return f"epoch {epoch + 1}/{epochs}, step {into}/{steps_per_epoch} of it (step {step})"


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
    estimated = sum(v.shape.num_elements() * v.dtype.size for v in model.variables)
    return checkpoints.save(manager, int(model.step), estimated)


def _read_losses(values: dict[str, tf.Tensor], step: int,
                 last_checkpoint: str | None) -> dict[str, float]:
    """The step's losses as floats; raises `TrainingDiverged` on a NaN or infinite one."""
    # These are the unscaled float32 losses. A float16 loss-scale overflow makes only the
    # scaled gradients non-finite: LossScaleOptimizer skips that update and lowers the scale,
    # so such steps never show here. A non-finite loss is a real divergence.
    floats = {name: float(value) for name, value in values.items()}
    bad = [name for name, value in floats.items() if not math.isfinite(value)]
    if bad:
        kept = f"the latest checkpoint, {last_checkpoint}, is" if last_checkpoint else "nothing was"
        raise TrainingDiverged(
            f"Loss {', '.join(bad)} became {floats[bad[0]]} by step {step}; training stopped "
            f"without saving these weights ({kept} kept). Try a lower --lr, or "
            "--mixed_precision=float32."
        )
    return floats


def _write_samples(model: CycleGAN, test_a: tf.Tensor, test_b: tf.Tensor, epoch: int,
                   epochs: int, run: RunFolder, writer: tf.summary.SummaryWriter) -> str:
    step = int(model.step)
    grid = samples.sample_grid(model.translate, test_a, test_b,
                               caption=f"step {step}, epoch {epoch}/{epochs}")
    path = save_png(grid, run.sample_grid(epoch))
    with writer.as_default():
        tf.summary.image("samples/" + "|".join(samples.COLUMNS), grid[None], step=step)
    return path


def _report_failed_files(data: UnpairedData, run: RunFolder, bar: ProgressBar) -> None:
    """Names the files that vanished or broke since the last call, and adds them to the
    skip list."""
    new = data.guard.take_failures() if data.guard else {}
    if not new:
        return
    run.write_skipped({**data.scan.skipped, **data.guard.failed})
    for path, reason in new.items():
        bar.message(f"Skipping {printable_path(path)} for the rest of the run: {reason} "
                    f"(listed in {run.skipped_files}).")


def _epoch_summary(epoch: int, epochs: int, grid: str, checkpoint: str,
                   metrics: dict[str, float]) -> str:
    parts = [f"Epoch {epoch}/{epochs} done"]
    parts += [f"samples {grid}"] if grid else []
    parts += [f"checkpoint {checkpoint}"] if checkpoint else []
    parts += ["eval " + " ".join(f"{k} {v:.4g}" for k, v in metrics.items())] if metrics else []
    return "; ".join(parts) + "."


def train(config: Config, out: TextIO = sys.stdout,
          callbacks: Sequence[Callback] = (), max_steps: int = 0,
          max_seconds: float = 0.0) -> TrainResult:
    """Trains (or resumes) the run described by `config`.

    Args:
        config: The run's configuration (a preset plus overrides: `presets.preset_config`).
        out: Where the progress line and messages go.
        callbacks: Called with a `Progress` as training goes; one returning True asks the
            run to save and stop, as Ctrl-C does.
        max_steps: Save and stop once the run's step counter reaches this (0: no limit).
        max_seconds: Save and stop after this many seconds of this call's training loop
            (0: no limit). Either limit ends the call as "interrupted"; calling again
            resumes.

    Returns:
        A `TrainResult`; `status` is "interrupted" when a signal or a callback stopped it.

    Raises:
        ConfigError, DataError, CheckpointError, RunFolderBusy, TrainingDiverged: each
        with a message naming the flag, file or folder at fault.
    """
    config.validate()
    # Before anything else touches TensorFlow: multi-worker collectives are set up here.
    strategy = distribute.make_strategy(config.strategy)
    run = RunFolder(distribute.worker_output_dir(config.resolved_output_dir, strategy))
    with run.locked():
        return _train_locked(config, strategy, run, out, callbacks, max_steps, max_seconds)


def _set_color_transfer(model: CycleGAN, data: UnpairedData, out: TextIO) -> None:
    """Measures both domains' colours and sets the generators' --color_transfer maps (a
    resumed run has them from its checkpoint)."""
    colours = []
    for source in (data.train_a, data.train_b):
        colours.append(color_transfer.colour_statistics(source, model.config))
        print(f"Colours of {source.name}: {color_transfer.describe(colours[-1])}.", file=out)
    maps = model.set_color_transfer(*colours)
    if model.config.color_transfer == "tone":
        kept = ", ".join(f"{name} keeps {colour_map.chroma_kept:.0%}"
                         for name, colour_map in maps.items())
        print(f"Tone transfer: of the input's chroma around the other domain's tone ramp, "
              f"{kept}.", file=out)
    if model.config.scale_hue_by_chroma:
        weights = model.hue_weights.numpy()
        print(f"Hue anchor (--lambda_hue times the chroma kept): generator_g {weights[0]:.3g}, "
              f"generator_f {weights[1]:.3g}.", file=out)


def _train_locked(config: Config, strategy: tf.distribute.Strategy, run: RunFolder,
                  out: TextIO, callbacks: Sequence[Callback], max_steps: int,
                  max_seconds: float) -> TrainResult:
    if run.is_run() and checkpoints.saved_checkpoints(run.checkpoints):
        config.check_resumable_with(configs.load_config(run.config))

    # Scans the files (skipping undecodable ones) and fails on bad data before any model
    # is built.
    data = UnpairedData(config, run.scan_cache)
    run.write_skipped(data.scan.skipped)
    if data.scan.images:
        print(data.scan.summary(run.skipped_files), file=out)
    steps_per_epoch = data.steps_per_epoch
    model = CycleGAN(config, steps_per_epoch, strategy=strategy)
    checkpoints.tidy_folder(run.checkpoints, out)
    manager = checkpoints.manager(model.checkpoint(), run.checkpoints, config.keep_checkpoints)
    restored = checkpoints.restore_training(model.checkpoint(), run.checkpoints, out)
    epochs = config.epochs
    if restored:
        print(f"Resuming from {restored} at the "
              f"{_position(int(model.step), steps_per_epoch, epochs)}.", file=out)
    elif config.color_transfer != "none":
        _set_color_transfer(model, data, out)
    configs.save_config(config, run.root)

    def result(status: str, values: dict[str, float], reason: str = "") -> TrainResult:
        return TrainResult(run.root, int(model.step), int(model.epoch), values, status, reason)

    if int(model.epoch) >= epochs:
        print(f"Run {run.root} already finished: step {int(model.step)}, epoch "
              f"{int(model.epoch)}/{epochs}. Raise --epochs to train longer.", file=out)
        return result("already_finished", {})
    if max_steps and int(model.step) >= max_steps:
        print(f"Run {run.root} is at step {int(model.step)}, the step limit.", file=out)
        return result("interrupted", {}, f"the step limit ({max_steps})")

    monitor = TrainingMonitor(config, data, model, run.best)
    writer = tf.summary.create_file_writer(run.logs)
    with writer.as_default():
        tf.summary.text("config", f"```\n{config.to_json()}\n```", step=int(model.step))
    log_hparams(writer, config, run.name)
    test_a = data.test_batch("a", config.num_samples)
    test_b = data.test_batch("b", config.num_samples)
    print(f"Training {config.preset or 'custom'} ({config.generator} generator, "
          f"{config.discriminator} discriminator, {model.policy}) on {data.train_a.name} "
          f"({data.train_a.length} images) and {data.train_b.name} ({data.train_b.length}); "
          f"{steps_per_epoch} steps per epoch, epochs {int(model.epoch) + 1}..{epochs}; "
          f"writing to {run.root}.", file=out)

    total = epochs * steps_per_epoch
    bar = ProgressBar(total, initial=int(model.step), items_per_step=config.batch_size,
                      stream=out)
    losses: dict[str, float] = {}
    started = time.perf_counter()
    profiler = StepProfiler(config.profile_range(), run.logs)

    def tell(event: str, **extra) -> bool:
        report = Progress(event, int(model.step), int(model.epoch), epochs, steps_per_epoch,
                          losses, bar.rate, **extra)
        return any([bool(callback(report)) for callback in callbacks])

    def stop_now() -> TrainResult:
        bar.close(stopped=True)
        path = _save(manager, model)
        writer.flush()
        print(f"Stopped by {stop.reason} at the "
              f"{_position(int(model.step), steps_per_epoch, epochs)}; saved {path}. The run "
              "is unfinished: run the same command again to resume.", file=out)
        tell("end")
        return result("interrupted", losses, stop.reason)

    stop = StopRequest()
    with stop.installed(), contextlib.closing(profiler):
        for epoch in range(int(model.epoch), epochs):
            label = f"epoch {epoch + 1}/{epochs}"
            batches = data.train_dataset(epoch, int(model.epoch_step))
            for real_a, real_b in distribute.distribute_dataset(strategy, batches):
                profiler.before_step(int(model.step) + 1)
                values = model.train_step(real_a, real_b)
                step = int(model.step)
                profiler.after_step(step)
                if max_steps and step >= max_steps:
                    stop.reason = stop.reason or f"the step limit ({max_steps})"
                elif max_seconds and time.perf_counter() - started >= max_seconds:
                    stop.reason = stop.reason or f"the time limit ({max_seconds:g} s)"
                with writer.as_default(step=step):
                    for name, value in values.items():
                        tf.summary.scalar("lr" if name == "lr" else f"loss/{name}", value)
                    if bar.rate:
                        tf.summary.scalar("images_per_sec", bar.rate)
                # The losses stay on the device until the progress line needs them.
                end_of_epoch = int(model.epoch_step) == steps_per_epoch
                save_now = bool(config.save_every_steps) and step % config.save_every_steps == 0
                # Losses are read (and checked) at least before anything is saved.
                if bar.due() or end_of_epoch or save_now or stop:
                    _report_failed_files(data, run, bar)
                    losses = _read_losses(values, step, manager.latest_checkpoint)
                    bar.update(step, label, {short: losses[name]
                                             for name, short in SHOWN_LOSSES.items()})
                    if tell("progress"):
                        stop.reason = stop.reason or "a callback"
                else:
                    bar.update(step)
                if save_now:
                    _save(manager, model)
                if stop:
                    return stop_now()
            _report_failed_files(data, run, bar)
            model.epoch.assign_add(1)
            model.epoch_step.assign(0)
            done = epoch + 1
            grid = saved = ""
            if done % config.sample_every_epochs == 0 or done == epochs:
                grid = _write_samples(model, test_a, test_b, done, epochs, run, writer)
            if done % config.save_every_epochs == 0 or done == epochs:
                saved = _save(manager, model)
            evaluated = monitor.evaluate_if_due(done, writer, bar.message)
            bar.message(_epoch_summary(done, epochs, grid, saved, evaluated))
            bar.pause_ended()
            if tell("epoch", metrics=evaluated, sample_grid=grid):
                stop.reason = stop.reason or "a callback"
            if stop and done < epochs:
                return stop_now()
    bar.close()
    writer.flush()
    try:
        curves.plot_run(run.root, run.curves)
    except ValueError:
        pass  # No scalars yet: nothing to plot.
    print(f"Finished {epochs} epochs at step {int(model.step)} in "
          f"{format_duration(time.perf_counter() - started)}; latest checkpoint "
          f"{manager.latest_checkpoint}. Samples in {run.samples}, curves in {run.curves}; "
          f"TensorBoard: tensorboard --logdir {run.logs}", file=out)
    tell("end")
    return result("finished", losses)
