"""Tests of evaluation: `evaluate_run` and its CLI, the in-training metrics, `--keep_best`,
TensorBoard hparams, and `python -m cyclegan_tf.plot`.

One tiny run (32 px, ngf/ndf 8, two one-step epochs) is trained once for the module.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from tensorboard.plugins.hparams import metadata as hparams_metadata

from conftest import REPO_ROOT, tiny_config, write_images
from cyclegan_tf import evaluate as evaluate_cli
from cyclegan_tf.core import checkpoints
from cyclegan_tf.evaluation import evaluate
from cyclegan_tf.inference import export
from cyclegan_tf.core import metrics
from cyclegan_tf.training import monitor
from cyclegan_tf.core.configs import ConfigError, KEEP_BEST_METRICS
from cyclegan_tf.data.pipeline import UnpairedData
from cyclegan_tf.training.curves import read_scalars
from cyclegan_tf.training.loop import train
from cyclegan_tf.training.trainer import CycleGAN


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    data = tmp_path_factory.mktemp("data")
    write_images(str(data / "a"), 3, seed=1)
    write_images(str(data / "b"), 2, seed=2)
    return str(data)


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory) -> tuple[str, str]:
    """A finished run evaluated after each epoch, keeping the best cycle_psnr_a; its output."""
    output_dir = str(tmp_path_factory.mktemp("run") / "tiny")
    config = tiny_config(data_dir, output_dir, steps_per_epoch=1, eval_every_epochs=1,
                         eval_images=2, keep_best="cycle_psnr_a")
    out = io.StringIO()
    train(config, out=out)
    return output_dir, out.getvalue()


def _run_module(module: str, *args: str, env: dict[str, str] | None = None):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env=env, timeout=300)


# In training. ---------------------------------------------------------------------------


def test_eval_every_epochs_logs_metric_scalars(run):
    output_dir, printed = run
    scalars = read_scalars(os.path.join(output_dir, "logs"))
    for name in ("cycle_l1_a", "cycle_psnr_b", "identity_l1_a", "identity_l1_b"):
        steps, values = scalars[f"eval/{name}"]
        assert list(steps) == [1, 2] and np.isfinite(values).all()
    assert not any(tag.startswith(("eval/fid", "eval/kid")) for tag in scalars)
    assert "Epoch 2/2 done" in printed and "; eval cycle_l1_a " in printed


def test_keep_best_saves_the_best_epoch_of_the_run(run):
    output_dir, _ = run
    best_dir = os.path.join(output_dir, "best")
    record = json.load(open(os.path.join(best_dir, checkpoints.BEST_FILE)))
    steps, values = read_scalars(os.path.join(output_dir, "logs"))["eval/cycle_psnr_a"]
    assert record["metric"] == "cycle_psnr_a" and record["step"] in steps
    assert record["epoch"] == record["step"]  # One step per epoch.
    # The logged scalars are float32: near-ties may round together, so compare values.
    logged = values[list(steps).index(record["step"])]
    assert logged == pytest.approx(values.max(), abs=1e-5)
    assert record["value"] == pytest.approx(logged, abs=1e-5)
    assert tf.train.latest_checkpoint(best_dir).endswith(f"ckpt-{record['step']}")


def test_hparams_session_records_the_config(run):
    output_dir, _ = run
    sessions = []
    for path in tf.io.gfile.glob(os.path.join(output_dir, "logs", "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            sessions += [hparams_metadata.parse_session_start_info_plugin_data(
                value.metadata.plugin_data.content) for value in event.summary.value
                if value.tag == hparams_metadata.SESSION_START_INFO_TAG]
    assert len(sessions) == 1
    hparams = sessions[0].hparams
    assert hparams["ngf"].number_value == 8 and hparams["generator"].string_value == "unet"
    assert hparams["keep_best"].string_value == "cycle_psnr_a"
    assert hparams["background"].string_value == "255,255,255"


def test_keep_best_follows_injected_metrics_and_survives_a_resume(data_dir, tmp_path,
                                                                  monkeypatch):
    config = tiny_config(data_dir, str(tmp_path), epochs=6, eval_every_epochs=1,
                         eval_images=1, keep_best="cycle_l1_a")  # Lower is better.
    data, model = UnpairedData(config), CycleGAN(config)
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    best_dir = str(tmp_path / "best")
    scripted = iter([0.5, 0.2, 0.3, 0.25, 0.1])
    monkeypatch.setattr(metrics, "translation_metrics",
                        lambda *args, **kwargs: {"cycle_l1_a": next(scripted)})

    def epoch(watcher: monitor.TrainingMonitor, number: int) -> None:
        model.step.assign(number * 10)
        watcher.evaluate_if_due(number, writer, lambda text: None)

    first = monitor.TrainingMonitor(config, data, model, best_dir)
    for number in (1, 2, 3):
        epoch(first, number)
    record = json.load(open(os.path.join(best_dir, checkpoints.BEST_FILE)))
    assert (record["step"], record["epoch"], record["value"]) == (20, 2, 0.2)
    assert tf.train.get_checkpoint_state(best_dir).all_model_checkpoint_paths == [
        os.path.join(best_dir, "ckpt-20")]

    resumed = monitor.TrainingMonitor(config, data, model, best_dir)  # Reads best.json.
    epoch(resumed, 4)  # 0.25 is worse than the 0.2 before the restart.
    assert json.load(open(os.path.join(best_dir, checkpoints.BEST_FILE)))["step"] == 20
    epoch(resumed, 5)
    assert json.load(open(os.path.join(best_dir, checkpoints.BEST_FILE)))["value"] == 0.1
    assert tf.train.latest_checkpoint(best_dir).endswith("ckpt-50")
    assert len(tf.io.gfile.glob(os.path.join(best_dir, "ckpt-*.index"))) == 1


def test_evaluation_flags_are_validated(data_dir):
    base = tiny_config(data_dir)
    with pytest.raises(ConfigError, match="--keep_best='psnr' is not an eval metric"):
        base.replace(keep_best="psnr", eval_every_epochs=1).validate()
    with pytest.raises(ConfigError, match="--keep_best=cycle_l1_a needs --eval_every_epochs"):
        base.replace(keep_best="cycle_l1_a").validate()
    with pytest.raises(ConfigError, match="--keep_best=fid_b needs --eval_fid"):
        base.replace(keep_best="fid_b", eval_every_epochs=1).validate()
    with pytest.raises(ConfigError, match="--eval_fid needs --eval_every_epochs"):
        base.replace(eval_fid=True).validate()
    with pytest.raises(ConfigError, match="--eval_images must be zero or positive"):
        base.replace(eval_images=-1).validate()


def test_keep_best_choices_are_the_metrics_training_reports():
    batches = [tf.zeros([1, 16, 16, 3])]
    reported = metrics.translation_metrics(lambda x, d: x, batches, batches)
    assert set(KEEP_BEST_METRICS) == set(reported) | {"fid_a", "fid_b", "kid_a", "kid_b"}


# evaluate_run and its CLI. --------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluated(run, data_dir, tmp_path_factory) -> tuple[dict, str]:
    """The run evaluated with random-weight FID/KID and ground truth for two A images."""
    truth = tmp_path_factory.mktemp("truth")
    for name in sorted(os.listdir(os.path.join(data_dir, "a")))[:2]:
        shutil.copy(os.path.join(data_dir, "a", name),
                    truth / (os.path.splitext(name)[0] + ".bmp"))  # Matched by name, not type.
    printed = io.StringIO()
    report = evaluate.evaluate_run(run[0], truth_b=str(truth), out=printed,
                                   extractor=metrics.InceptionFeatures(weights=None))
    return report, printed.getvalue()


def test_evaluate_run_reports_and_writes_metrics_json(run, evaluated):
    report, printed = evaluated
    written = json.load(open(os.path.join(run[0], "eval", evaluate.METRICS_FILE)))
    assert written == json.loads(json.dumps(report))
    assert report["step"] == 2 and report["config"]["ngf"] == 8
    assert report["images"] == {"a": 3, "b": 2, "paired": 2}
    assert report["inception_weights"]["note"].startswith("random weights")
    values = report["metrics"]
    assert {"cycle_l1_a", "cycle_psnr_b", "identity_l1_b", "paired_psnr", "paired_ssim",
            "paired_l1", "fid_a", "kid_b", "kid_b_std"} <= set(values)
    assert all(np.isfinite(v) for v in values.values())
    assert "paired_ssim" in printed and "higher" in printed and "metrics.json" in printed


def test_fid_without_weights_is_a_clear_error_before_any_work(run, tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, "_keras_cache_dirs", lambda: [str(tmp_path / "models")])
    with pytest.raises(metrics.InceptionWeightsError, match="--inception_weights"):
        evaluate.evaluate_run(run[0], fid=True, output_dir=str(tmp_path / "eval"))
    assert not os.path.exists(tmp_path / "eval")
    with pytest.raises(evaluate.EvaluationError, match="exactly one of --run_dir"):
        evaluate.evaluate_run()


def test_saved_model_gives_the_same_metrics_as_the_run(run, evaluated, data_dir, tmp_path):
    model = export.export_generator(run[0], str(tmp_path / "model"), "both")
    inputs = dict(input_a=os.path.join(data_dir, "a"), input_b=os.path.join(data_dir, "b"))
    report = evaluate.evaluate_run(model=model, out=io.StringIO(), **inputs)
    assert report["step"] == 2
    assert os.path.exists(tmp_path / "model_eval" / evaluate.METRICS_FILE)
    for name, value in report["metrics"].items():
        assert evaluated[0]["metrics"][name] == pytest.approx(value, rel=1e-4, abs=1e-4), name
    with pytest.raises(evaluate.EvaluationError, match="holds one generator only"):
        evaluate.evaluate_run(model=os.path.join(model, "a2b"), **inputs)


def test_evaluate_flags_pick_the_best_checkpoint(run, tmp_path):
    flag_values = flags.FlagValues()
    evaluate_cli.define_flags(flag_values)
    best_dir = os.path.join(run[0], "best")
    flag_values(["evaluate", f"--run_dir={run[0]}", f"--checkpoint={best_dir}",
                 f"--output_dir={tmp_path}"])
    report = evaluate_cli.evaluate_from_flags(flag_values)
    assert report["step"] == json.load(open(os.path.join(best_dir, checkpoints.BEST_FILE)))["step"]
    assert os.path.exists(tmp_path / evaluate.METRICS_FILE)


def test_plot_command_line_draws_loss_and_metric_curves(run, tmp_path):
    png = tmp_path / "curves.png"
    result = _run_module("cyclegan_tf.plot", f"--run_dir={run[0]}", f"--output={png}")
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_corrupt_test_images_are_skipped_not_fatal(run, data_dir, tmp_path, capsys):
    from fixtures import truncated_jpeg

    input_a = tmp_path / "a"
    shutil.copytree(os.path.join(data_dir, "a"), input_a)
    truncated_jpeg(str(input_a / "broken.jpg"))
    report = evaluate.evaluate_run(run[0], input_a=str(input_a), out=io.StringIO(),
                                   output_dir=str(tmp_path / "eval"))
    assert report["images"]["a"] == 3  # The three good images; the broken one left out.
    assert "broken.jpg" in capsys.readouterr().err
