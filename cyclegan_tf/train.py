"""`python -m cyclegan_tf.train`: train (or resume) a CycleGAN; see `--help`."""

from __future__ import annotations

import os
import sys

from absl import flags

from cyclegan_tf.cli import app
from cyclegan_tf.cli.config_flags import (
    FLAG_GROUPS,
    config_from_flags,
    define_config_flags,
    expand_bare_flags,
)
from cyclegan_tf.core import presets
from cyclegan_tf.core.checkpoints import CheckpointError
from cyclegan_tf.core.configs import Config, ConfigError, load_config
from cyclegan_tf.core.run_folder import RunFolder, RunFolderBusy
from cyclegan_tf.data.pipeline import DataError
from cyclegan_tf.training.loop import TrainingDiverged, train

# A run stopped by SIGTERM, SIGINT (Ctrl-C) or a callback before all its epochs: saved and
# resumable. 75 is EX_TEMPFAIL ("try again later"), which schedulers can requeue on.
EXIT_UNFINISHED = 75


def _define_flags(flag_values: flags.FlagValues) -> None:
    define_config_flags(flag_values)
    flags.DEFINE_bool("list_presets", False, "Print the presets table and exit.",
                      flag_values=flag_values)


COMMAND = app.Command(
    program="cyclegan_tf.train",
    summary="Trains a CycleGAN on two folders of images (or a TFDS cycle_gan dataset), or "
            "resumes the run in --output_dir (default runs/<domain_a>2<domain_b>): "
            "config.json, checkpoints/, logs/ (TensorBoard), samples/ and curves.png. "
            "A flag given with --preset overrides the preset's value.",
    usage="--domain_a A --domain_b B [--preset NAME] [flags]",
    example="python -m cyclegan_tf.train --domain_a tom --domain_b jerry --image_size 128 "
            "--ngf 16 --ndf 32",
    define_flags=_define_flags,
    groups=FLAG_GROUPS,
    notes=f"Exit status: 0 when every epoch is done, {EXIT_UNFINISHED} when stopped early "
          "(Ctrl-C, SIGTERM; saved, run the same command to resume), 2 for a flag, file or "
          "data error, 1 otherwise.",
)


def keep_saved_precision(config: Config, precision_given: bool) -> Config:
    """`config`, with the saved precision of the run it resumes unless --mixed_precision
    was given: a run keeps the precision it started in (runs made before the default became
    auto were float32)."""
    saved_path = RunFolder(config.resolved_output_dir).config
    if precision_given or not os.path.exists(saved_path):
        return config
    saved = load_config(saved_path).mixed_precision
    if saved != config.mixed_precision:
        print(f"Resuming with --mixed_precision={saved}, as this run was trained; give the "
              "flag to change it.")
    return config.replace(mixed_precision=saved)


def _train_or_list_presets() -> int:
    if flags.FLAGS.list_presets:
        print(presets.table())
        return 0
    config = keep_saved_precision(config_from_flags(), flags.FLAGS["mixed_precision"].present)
    result = train(config)
    return 0 if result.finished else EXIT_UNFINISHED


def run() -> None:
    """Console entry point."""
    app.run_command(COMMAND, _train_or_list_presets,
                    (ConfigError, DataError, TrainingDiverged, CheckpointError, RunFolderBusy),
                    argv=expand_bare_flags(sys.argv))


if __name__ == "__main__":
    run()
