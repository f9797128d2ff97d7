"""Reliability (issue 7): bad and unusual data, invalid flags, kills, torn checkpoints, NaNs.

Training runs use 32 px images, the lightest networks (encoder-decoder generator, light
PatchGAN, no normalisation) and no identity loss, so each costs mostly its one-off tracing.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from PIL import Image

import fixtures
from cyclegan_tf.core.run_folder import RunFolder
from conftest import REPO_ROOT, write_images
from cyclegan_tf.core import configs
from cyclegan_tf.core import losses
from cyclegan_tf.training import curves as plot
from cyclegan_tf.core.configs import Config, ConfigError
from cyclegan_tf.data.scan import decode_with_pillow, scan_images
from cyclegan_tf.cli.config_flags import config_from_flags, define_config_flags
from cyclegan_tf.data.pipeline import DataError, UnpairedData, file_source
from cyclegan_tf.training.schedules import LearningRate
from cyclegan_tf.core.checkpoints import CheckpointError, saved_checkpoints
from cyclegan_tf.train import EXIT_UNFINISHED
from cyclegan_tf.training.loop import TrainingDiverged, train
from cyclegan_tf.core import checkpoints
from cyclegan_tf.training.trainer import NETWORKS, CycleGAN

LIGHT = dict(image_size=32, ngf=8, ndf=8, generator="encoder_decoder",
             discriminator="patch_light", norm="none", lambda_identity=0.0, num_samples=2,
             mixed_precision="float32")
LIGHT_FLAGS = [f"--{name}={value}" for name, value in LIGHT.items()]


def _config(data_dir: str, output_dir: str = "", **overrides) -> Config:
    values = dict(LIGHT, domain_a="a", domain_b="b", data_dir=data_dir, output_dir=output_dir,
                  epochs=1)
    values.update(overrides)
    return Config(**values).validate()


def _data(tmp_path, count: int = 4) -> str:
    data = str(tmp_path / "data")
    write_images(os.path.join(data, "a"), count, seed=1)
    write_images(os.path.join(data, "b"), count, seed=2)
    return data


def _checkpoint_arrays(prefix: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH" and "save_counter" not in name}


def _all_finite(prefix: str) -> bool:
    """Whether every float in the checkpoint (weights, optimizer slots, pools) is finite."""
    arrays = [a for a in _checkpoint_arrays(prefix).values() if a.dtype.kind == "f"]
    return bool(arrays) and all(np.isfinite(a).all() for a in arrays)


# Bad files. ------------------------------------------------------------------------------


@pytest.mark.fault("truncated, empty, non-image and unsupported files", "skipped and named; the epoch runs")
@pytest.mark.parametrize("name", sorted(fixtures.BAD_FILES))
def test_bad_file_is_skipped_and_the_epoch_runs(tmp_path, name):
    data = _data(tmp_path, count=2)
    bad = os.path.join(data, "a", name)
    fixtures.BAD_FILES[name](bad)
    pipeline = UnpairedData(_config(data, jitter=False))
    assert list(pipeline.scan.skipped) == [bad]
    assert pipeline.train_a.length == 2
    batches = list(pipeline.train_dataset(0))  # Would raise if the bad file were decoded.
    assert len(batches) == 2


def test_skip_reasons_name_the_problem(tmp_path):
    paths = fixtures.write_bad_files(str(tmp_path))
    reasons = dict(zip(fixtures.BAD_FILES, (scan_images(paths).skipped[p] for p in paths)))
    assert "truncated" in reasons["truncated.jpg"]
    assert "PNG" in reasons["truncated_end.png"]
    assert reasons["zero_bytes.jpg"] == "empty file (0 bytes)"
    assert "not an image" in reasons["text.png"]
    assert "PPM is not a supported format" in reasons["ppm_inside.png"]


def test_scan_cache_reads_only_changed_files(tmp_path):
    paths = write_images(str(tmp_path / "images"), 3)
    cache = str(tmp_path / "run" / "scan_cache.json")
    first = scan_images(paths, cache)
    assert first.cached == 0 and not first.skipped
    assert scan_images(paths, cache).cached == 3  # Unchanged: nothing is read again.
    # Same size and modification time, new (broken) content: the change time gives it away.
    stat = os.stat(paths[0])
    with open(paths[0], "r+b") as f:
        f.write(b"\0" * 64)
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = scan_images(paths, cache)
    assert second.cached == 2 and list(second.skipped) == [paths[0]]


def _bad_domain_missing(folder: str) -> None:
    del folder


def _bad_domain_empty(folder: str) -> None:
    os.makedirs(folder)
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("no images here")


def _bad_domain_all_bad(folder: str) -> None:
    fixtures.write_bad_files(folder)


@pytest.mark.parametrize("make", [_bad_domain_missing, _bad_domain_empty, _bad_domain_all_bad])
def test_unusable_domain_is_a_clear_error_before_any_model(tmp_path, make):
    data = str(tmp_path / "data")
    write_images(os.path.join(data, "a"), 2)
    make(os.path.join(data, "b"))
    with pytest.raises(DataError) as error:
        train(_config(data, str(tmp_path / "run")), io.StringIO())
    message = str(error.value)
    assert os.path.join(data, "b") in message
    assert "JPEG, PNG, BMP, GIF, WebP or TIFF" in message
    assert not os.path.exists(tmp_path / "run" / "checkpoints")


# Unusual but valid files. ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(fixtures.UNUSUAL_FILES))
def test_unusual_image_decodes_correctly(tmp_path, name):
    expected = fixtures.write_unusual_files(str(tmp_path), [name])
    path = next(iter(expected))
    scan = scan_images([path])
    assert not scan.skipped
    source = file_source([path], _config(str(tmp_path), image_size=256), name,
                         scan.pillow_files)
    image = next(iter(source.images())).numpy()
    want = expected[path]
    if image.shape != want.shape:  # The large image comes out downscaled.
        image = tf.image.resize(image, want.shape[:2], "area").numpy()
    assert image.shape == want.shape
    assert np.abs(image - want).mean() < 6, "decoded image differs from the expected one"


def test_rgba_is_composited_onto_the_background(tmp_path):
    path = str(tmp_path / "rgba.png")
    fixtures.rgba_png(path)
    background = (0, 0, 255)
    source = file_source([path], _config(str(tmp_path), background=background), "rgba")
    image = next(iter(source.images())).numpy()
    want = fixtures.composite(np.asarray(Image.open(path)), background)
    np.testing.assert_allclose(image, want, atol=1)


def test_images_smaller_than_the_crop_are_upscaled(tmp_path):
    data = str(tmp_path / "data")
    for domain in ("a", "b"):
        fixtures.write_unusual_files(os.path.join(data, domain), ["small.png"])
    a, b = next(iter(UnpairedData(_config(data)).train_dataset(0)))
    assert a.shape == b.shape == (1, 32, 32, 3)


def test_large_jpeg_is_downscaled_while_decoding(tmp_path):
    path = str(tmp_path / "large.jpg")
    fixtures.large_jpeg(path)
    assert str(path) in scan_images([path]).pillow_files
    image = decode_with_pillow(path, 286)
    # Draft mode decodes 6000x4000 at 1/8 (750x500); then 2x1 keeps both sides >= 286.
    # A full decode reduced afterwards would give 300x307.
    assert image.shape == (500, 375, 3)


# Flags and configuration. ----------------------------------------------------------------


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "cyclegan_tf.train", *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def _fake_run(folder: str, config: Config) -> None:
    """A run folder with `config.json` and a checkpoint index, as after some training."""
    configs.save_config(config, folder)
    os.makedirs(os.path.join(folder, "checkpoints"))
    open(os.path.join(folder, "checkpoints", "ckpt-2.index"), "w").close()


@pytest.mark.parametrize("args, flag", [
    (["--image_size=32", "--load_size=16"], "--load_size=16 is smaller than --image_size=32"),
    (["--pool_size=8"], "--pool_size: checkpoint has 4, now 8"),
])
def test_cli_rejects_invalid_flags_naming_them(tmp_path, args, flag):
    run = str(tmp_path / "run")
    _fake_run(run, _config(str(tmp_path), run, pool_size=4))
    result = _cli(*LIGHT_FLAGS, f"--output_dir={run}", f"--data_dir={tmp_path}",
                  "--pool_size=4", *args)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("cyclegan_tf.train: error: ")]
    assert errors and flag in result.stderr[result.stderr.index(errors[0]):]


@pytest.mark.parametrize("changes, flag", [
    (dict(image_size=32, load_size=16), "--load_size"),
    (dict(image_size=48), "--image_size=48 does not suit --generator=unet"),
    (dict(generator="resnet", image_size=30), "--image_size=30"),
    (dict(image_size=16), "--image_size=16 is too small"),
    (dict(batch_size=0), "--batch_size"),
    (dict(epochs=-1), "--epochs"),
    (dict(pool_size=-1), "--pool_size"),
    (dict(save_every_steps=-5), "--save_every_steps"),
    (dict(steps_per_epoch=-1), "--steps_per_epoch"),
    (dict(seed=-1), "--seed"),
    (dict(lr=0.0), "--lr"),
    (dict(lr_schedule="linear"), "--decay_epochs"),
])
def test_invalid_configurations_name_the_flags(changes, flag):
    with pytest.raises(ConfigError, match=re.escape(flag)):
        Config(**changes).validate()


def test_config_from_flags_rejects_zero_counts():
    values = flags.FlagValues()
    define_config_flags(values)
    values(["train", "--ngf=0"])
    with pytest.raises(ConfigError, match="--ngf must be positive"):
        config_from_flags(values)


@pytest.mark.parametrize("changes, flag", [
    (dict(ngf=16), "--ngf"),
    (dict(pool_size=8), "--pool_size"),
    (dict(image_size=64), "--image_size"),  # The pool's buffers hold images of this size.
    (dict(mixed_precision="fp16"), "--mixed_precision"),
])
def test_resuming_with_a_different_state_layout_is_refused(tmp_path, changes, flag):
    run = str(tmp_path / "run")
    saved = _config(str(tmp_path), run, generator="resnet", pool_size=4)
    _fake_run(run, saved)
    with pytest.raises(ConfigError, match=re.escape(flag)):
        train(saved.replace(**changes), io.StringIO())


# Interruptions. --------------------------------------------------------------------------


class _Training:
    """`python -m cyclegan_tf.train` in a subprocess, its output collected as it comes."""

    def __init__(self, *args: str):
        env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cyclegan_tf.train", *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stdout, self.stdout),
                                               (self.process.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def wait_until(self, ready, timeout: float = 180) -> None:
        """Polls `ready()` every 10 ms until it is true; fails if the process ends first."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.process.poll() is None, "training ended early:\n" + self.output()
            assert time.monotonic() < deadline, "timed out:\n" + self.output()
            time.sleep(0.01)

    def finish(self, timeout: float = 300) -> int:
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join()
        return code

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


@pytest.mark.fault("Ctrl-C or SIGTERM", "saves, says how to resume, exit status 75")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_says_how_to_resume(tmp_path, signum):
    data = _data(tmp_path, count=6)
    bad = fixtures.write_bad_files(os.path.join(data, "a"))
    run = str(tmp_path / "run")
    training = _Training(*LIGHT_FLAGS, f"--data_dir={data}", "--domain_a=a", "--domain_b=b",
                         f"--output_dir={run}", "--epochs=50")
    training.wait_until(lambda: any("epoch 1/50" in line for line in training.stdout))
    training.process.send_signal(signum)
    assert training.finish() == EXIT_UNFINISHED, training.output()
    stdout = "".join(training.stdout)
    match = re.search(rf"Stopped by {signum.name} at the epoch 1/50, step \d+/6 of it \(step "
                      r"(\d+)\); saved (\S+)\. The run is unfinished: run the same command "
                      r"again to resume\.", stdout)
    assert match, stdout
    step, path = int(match.group(1)), match.group(2)
    assert 0 < step < 6 * 50
    assert path == os.path.join(run, "checkpoints", f"ckpt-{step}")
    assert _checkpoint_arrays(path)["step/.ATTRIBUTES/VARIABLE_VALUE"] == step
    # The bad files were listed by name, skipped, and training went on with the rest.
    for name in bad:
        assert name in stdout
    assert sorted(RunFolder(run).read_skipped()) == sorted(bad)
    assert "on a (6 images)" in stdout


@pytest.mark.fault("SIGKILL at a random moment, saving every step (so often mid-save)", "restart continues step, schedule, pool and weights exactly")
def test_sigkill_then_restart_continues_step_schedule_pool_and_weights(tmp_path):
    data = _data(tmp_path, count=4)
    run = str(tmp_path / "run")
    args = [*LIGHT_FLAGS, f"--data_dir={data}", "--domain_a=a", "--domain_b=b",
            f"--output_dir={run}", "--epochs=2", "--save_every_steps=1", "--pool_size=4",
            "--lr_schedule=linear", "--decay_epochs=1", "--keep_checkpoints=50"]
    directory = os.path.join(run, "checkpoints")
    killed = _Training(*args)
    # After the first checkpoint, kill while the second one is being written (its
    # temporary folder exists), or just after if the save was too quick to see.
    killed.wait_until(lambda: os.path.isdir(os.path.join(directory, "ckpt-2_temp"))
                      or os.path.exists(os.path.join(directory, "ckpt-2.index")))
    killed.process.kill()  # SIGKILL: no handler runs.
    assert killed.finish() == -signal.SIGKILL
    on_disk = saved_checkpoints(directory)

    resumed = _Training(*args)
    assert resumed.finish() == 0, resumed.output()
    stdout = "".join(resumed.stdout)
    match = re.search(r"Resuming from (\S+) at the .*?\(step (\d+)\)", stdout)
    assert match, stdout
    path, step = match.group(1), int(match.group(2))
    assert step == int(path.rsplit("-", 1)[1])
    # The newest checkpoint was used, unless the kill tore it (then it says so).
    for newer in on_disk[:on_disk.index(path)]:
        assert f"Checkpoint {newer} cannot be restored" in stdout
    assert step < 4, "the kill came too late to test a mid-epoch resume"
    assert "Finished 2 epochs at step 8" in stdout
    assert "(8 unchanged since the last check)" in stdout  # The scan came from its cache.

    config = configs.load_config(run)
    schedule = LearningRate(config, steps_per_epoch=4)
    steps, rates = plot.read_scalars(os.path.join(run, "logs"))["lr"]
    assert step + 1 in steps
    np.testing.assert_allclose(rates, [float(schedule(s - 1)) for s in steps], rtol=1e-6)

    # Replaying the step after the checkpoint here must give the resumed run's next one:
    # same weights, optimizer slots, image pools, counters and data.
    pipeline = UnpairedData(config)
    model = CycleGAN(config, pipeline.steps_per_epoch)
    model.checkpoint().restore(path).assert_existing_objects_matched()
    real_a, real_b = next(iter(pipeline.train_dataset(int(model.epoch), int(model.epoch_step))))
    model.train_step(real_a, real_b)
    replayed = str(tmp_path / "replay" / "ckpt")
    model.checkpoint().write(replayed)
    expected = _checkpoint_arrays(os.path.join(directory, f"ckpt-{step + 1}"))
    actual = _checkpoint_arrays(replayed)
    assert expected.keys() == actual.keys()
    assert any("pool_a" in name for name in expected)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def _run_with_checkpoints(tmp_path, steps: tuple[int, ...]) -> tuple[Config, str]:
    """A finished run folder with a checkpoint at each of `steps` (no training)."""
    run = str(tmp_path / "run")
    config = _config(_data(tmp_path, 2), run)
    model = CycleGAN(config)
    model.epoch.assign(config.epochs)  # Finished: `train` restores, then returns at once.
    manager = checkpoints.manager(model.checkpoint(), os.path.join(run, "checkpoints"), 5)
    for step in steps:
        model.step.assign(step)
        manager.save(checkpoint_number=step)
    configs.save_config(config, run)
    return config, os.path.join(run, "checkpoints")


@pytest.mark.fault("damaged newest checkpoint", "training falls back to the previous one and says so")
def test_torn_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    config, directory = _run_with_checkpoints(tmp_path, (2, 4))
    with open(os.path.join(directory, "ckpt-4.data-00000-of-00001"), "r+b") as f:
        f.truncate(100)  # As if the machine died while this file was written.
    out = io.StringIO()
    result = train(config, out)
    assert result.step == 2 and result.status == "already_finished"
    assert "ckpt-4 cannot be restored" in out.getvalue()
    assert f"Resuming from {os.path.join(directory, 'ckpt-2')} at the " in out.getvalue()


def test_empty_checkpoint_state_file_still_finds_the_checkpoints(tmp_path):
    config, directory = _run_with_checkpoints(tmp_path, (2, 4))
    open(os.path.join(directory, "checkpoint"), "w").close()  # A torn write of the state.
    out = io.StringIO()
    assert train(config, out).step == 4
    assert "was unreadable" in out.getvalue()


def test_no_restorable_checkpoint_is_an_error_not_a_silent_restart(tmp_path):
    config, directory = _run_with_checkpoints(tmp_path, (2,))
    shutil.copy(os.path.join(REPO_ROOT, "setup.cfg"),
                os.path.join(directory, "ckpt-2.data-00000-of-00001"))
    with pytest.raises(CheckpointError, match="None of the 1 checkpoints"):
        train(config, io.StringIO())


# Numerical failures. ---------------------------------------------------------------------


def _poisoned_from_call(function, first_call: int, poison):
    """`function` plus `poison(a, b, on)`, where `on` is 1.0 from call `first_call` (0-based)."""
    calls = tf.Variable(0, dtype=tf.int64, trainable=False)

    @functools.wraps(function)
    def poisoned(a, b, *args):
        on = tf.cast(calls.assign_add(1) > first_call, tf.float32)
        return function(a, b, *args) + poison(a, b, on)

    return poisoned


@pytest.mark.fault("NaN loss", "stops naming step and loss; last finite checkpoint kept")
def test_nan_loss_stops_naming_step_and_loss_and_keeps_finite_checkpoint(tmp_path, monkeypatch):
    # discriminator_loss runs twice a step (X, then Y): from call 4 (step 3) both become
    # mean(logits) * sqrt(-1), NaN in value and in gradient; before that, 0 * sqrt(0).
    monkeypatch.setattr(losses, "discriminator_loss", _poisoned_from_call(
        losses.discriminator_loss, 4,
        lambda a, b, on: tf.reduce_mean(tf.cast(a, tf.float32)) * tf.sqrt(-on)))
    run = str(tmp_path / "run")
    with pytest.raises(TrainingDiverged) as error:
        train(_config(_data(tmp_path), run, save_every_steps=1), io.StringIO())
    assert re.match(r"Loss disc_x, disc_y became nan by step 3;", str(error.value))
    directory = os.path.join(run, "checkpoints")
    assert saved_checkpoints(directory)[0].endswith("ckpt-2")
    assert tf.train.latest_checkpoint(directory).endswith("ckpt-2")
    assert _all_finite(saved_checkpoints(directory)[0])


def test_nan_gradient_of_a_finite_loss_is_not_saved(tmp_path, monkeypatch):
    # sqrt(|b - b| + 0) is 0, but its gradient is NaN. l1 runs twice a step (the cycle
    # losses), so call 4 is in step 3.
    monkeypatch.setattr(losses, "l1", _poisoned_from_call(
        losses.l1, 4, lambda a, b, on: on * tf.reduce_mean(tf.sqrt(tf.abs(b - b) + (1.0 - on)))))
    run = str(tmp_path / "run")
    with pytest.raises(TrainingDiverged, match=r"Weights of .* became NaN or infinite at step 3"):
        train(_config(_data(tmp_path), run, save_every_steps=1), io.StringIO())
    newest = saved_checkpoints(os.path.join(run, "checkpoints"))[0]
    assert newest.endswith("ckpt-2") and _all_finite(newest)


def test_fp16_loss_scale_overflow_skips_steps_without_stopping(tmp_path, monkeypatch):
    # A loss scale of 2^120 overflows float16 gradients at every step: each update is
    # skipped and the scale halved. That is normal mixed-precision training, not a failure.
    monkeypatch.setattr(keras.optimizers, "LossScaleOptimizer", functools.partial(
        keras.optimizers.LossScaleOptimizer, initial_scale=2.0 ** 120))
    run = str(tmp_path / "run")
    config = _config(_data(tmp_path, 3), run, mixed_precision="fp16")
    result = train(config, io.StringIO())
    assert result.status == "finished" and result.step == 3
    assert all(np.isfinite(value) for value in result.losses.values())
    trained = CycleGAN(config)
    trained.checkpoint().restore(tf.train.latest_checkpoint(os.path.join(run, "checkpoints")))
    assert [float(opt.dynamic_scale) for opt in trained.optimizers.values()] == [2.0 ** 117] * 4
    initial = CycleGAN(config)  # Same seed: the weights before any update.
    for name in NETWORKS:
        for before, after in zip(initial.network(name).weights, trained.network(name).weights):
            np.testing.assert_array_equal(before.numpy(), after.numpy())
