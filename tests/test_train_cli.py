"""`python -m cyclegan_tf.train`: outputs, resume, flags and presets on the command line."""

import json
import os
import subprocess
import sys

import pytest
from absl import flags

from cyclegan_tf.core import configs, presets
from cyclegan_tf.cli.config_flags import config_from_flags, define_config_flags, expand_bare_flags
from conftest import REPO_ROOT


def _run(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "cyclegan_tf.train", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_cli_trains_writes_outputs_and_resumes(image_dirs, tmp_path):
    out = str(tmp_path / "run")
    args = ["--domain_a=a", "--domain_b=b", f"--data_dir={image_dirs}", f"--output_dir={out}",
            "--image_size=32", "--ngf=8", "--ndf=8", "--steps_per_epoch=2", "--num_samples=2",
            "--save_every_epochs=1"]
    first = _run(*args, "--epochs=2")
    assert first.returncode == 0, first.stderr
    assert "Finished 2 epochs at step 4" in first.stdout
    saved = json.load(open(os.path.join(out, "config.json")))
    assert saved["image_size"] == 32 and saved["preset"] == "tom2jerry"
    assert os.path.exists(os.path.join(out, "checkpoints", "ckpt-4.index"))
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(out, "logs")))
    assert os.path.exists(os.path.join(out, "samples", "epoch_0002.png"))
    assert os.path.exists(os.path.join(out, "curves.png"))

    again = _run(*args, "--epochs=2")
    assert again.returncode == 0, again.stderr
    assert "already finished" in again.stdout

    more = _run(*args, "--epochs=3")
    assert more.returncode == 0, more.stderr
    assert "Resuming from" in more.stdout and "end of epoch 2/" in more.stdout
    assert "Finished 3 epochs at step 6" in more.stdout  # Continued, not restarted.

    other = _run(*args, "--epochs=4", "--generator=resnet")
    assert other.returncode == 2
    assert "--generator: checkpoint has 'unet', now 'resnet'" in other.stderr


def test_cli_reports_bad_flags_and_missing_data(tmp_path):
    bad = _run("--image_size=100", f"--output_dir={tmp_path}")
    assert bad.returncode == 2 and "--image_size=100" in bad.stderr
    missing = _run(f"--data_dir={tmp_path}", "--domain_a=cats", f"--output_dir={tmp_path}/o")
    assert missing.returncode == 2 and "--domain_a='cats'" in missing.stderr


def test_list_presets_prints_every_preset():
    result = _run("--list_presets")
    assert result.returncode == 0
    for name in presets.PRESETS:
        assert name in result.stdout


def _parse(*argv):
    values = flags.FlagValues()
    define_config_flags(values)
    values(["train", *expand_bare_flags(list(argv))])
    return config_from_flags(values)


def test_flags_override_the_preset():
    config = _parse("--preset=paper", "--lr=0.001", "--pool_size=0", "--background=0,0,0")
    assert config.preset == "paper"
    assert config.generator == "resnet" and config.gan_loss == "lsgan"  # From the preset.
    assert config.lr == 0.001 and config.pool_size == 0  # From the flags.
    assert config.background == (0, 0, 0)
    assert _parse().preset == "tom2jerry" and _parse().generator == "unet"
    assert _parse("--mixed_precision").mixed_precision == "auto"
    assert _parse("--mixed_precision", "bf16").mixed_precision == "bf16"
    assert _parse("--mixed_precision", "auto", "--generator", "resnet").generator == "resnet"
    assert _parse("--mixed_precision=off").mixed_precision == "float32"  # The old spelling.
    assert _parse("--nomixed_precision").mixed_precision == "float32"
    with pytest.raises(configs.ConfigError, match="--preset"):
        _parse("--preset=unknown")


def test_default_precision_is_auto_and_a_resume_keeps_the_saved_one(tmp_path, capsys):
    from cyclegan_tf.train import keep_saved_precision

    assert configs.Config().mixed_precision == "auto"
    config = configs.Config(output_dir=str(tmp_path))
    assert keep_saved_precision(config, precision_given=False) is config  # Nothing saved yet.
    configs.save_config(config.replace(mixed_precision="float32"), str(tmp_path))
    assert keep_saved_precision(config, precision_given=False).mixed_precision == "float32"
    assert "Resuming with --mixed_precision=float32" in capsys.readouterr().out
    assert keep_saved_precision(config, precision_given=True).mixed_precision == "auto"
