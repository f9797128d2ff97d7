"""Train a configuration on a benchmark with ground truth for a budget, and score it.

    python ../shared/bench/make_photo2ink.py --out /tmp/photo2ink --size 128 --seed 1
    python scripts/quality.py --bench=/tmp/photo2ink --out=quality/paper --preset=paper \
        --image_size=128 --minutes=30

Every `cyclegan_tf.train` flag sets what is trained. The benchmark folder holds trainA/,
trainB/, testA/ and testB_truth/. The script trains for --steps or --minutes (of the
training loop) in --evaluations equal parts, prints PSNR and SSIM of G(testA) against
testB_truth after each (and the reference rows: copying the input, the colour-map
ceiling, the tone/colour split and the palette transfer), exports the generator,
scores the SavedModel's translations and writes OUT/quality.json, OUT/pred/ and
OUT/side_by_side.png (input | output | truth).
"""

from __future__ import annotations

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cyclegan_tf.cli.quiet import import_tensorflow_quietly

import_tensorflow_quietly(sys.argv)

from cyclegan_tf.cli import app as cli
from cyclegan_tf.cli.config_flags import config_from_flags, define_config_flags
from cyclegan_tf.core.configs import ConfigError
from cyclegan_tf.data.pipeline import DataError
from cyclegan_tf.tools.quality import (
    BenchmarkError,
    BenchmarkInterrupted,
    run_benchmark,
)
from cyclegan_tf.train import EXIT_UNFINISHED

FLAGS = flags.FLAGS


def define_flags(flag_values: flags.FlagValues = FLAGS) -> None:
    """The harness's own flags (every cyclegan_tf.train flag is defined beside them)."""
    del flag_values  # The script's flags live in absl's global FLAGS.
    flags.DEFINE_string("bench", None, "The benchmark folder (trainA/, trainB/, testA/, "
                        "testB_truth/).")
    flags.DEFINE_string("out", None, "Where the run, quality.json, pred/ and the picture go; "
                        "running again with the same folder resumes the run.")
    flags.DEFINE_integer("steps", 0, "Budget in training steps.")
    flags.DEFINE_float("minutes", 0.0, "Budget in minutes of the training loop.")
    flags.DEFINE_integer("evaluations", 4, "Scorings during training, at equal parts of the "
                         "budget.")


def main() -> None:
    """Runs the harness the flags describe."""
    if not FLAGS.bench or not FLAGS.out:
        raise BenchmarkError("--bench=FOLDER and --out=FOLDER are required.")
    try:
        run_benchmark(config_from_flags(), FLAGS.bench, FLAGS.out, steps=FLAGS.steps,
                      minutes=FLAGS.minutes, evaluations=FLAGS.evaluations,
                      notes=[" ".join(sys.argv)])
    except BenchmarkInterrupted as stopped:
        print(stopped)
        sys.exit(EXIT_UNFINISHED)


COMMAND = cli.Command(
    program="scripts/quality.py",
    summary="Trains a configuration on a benchmark with ground truth (../shared/bench) for "
            "a step or time budget, scores PSNR and SSIM against the truth (and copying the "
            "input, the reference) during training and on the exported SavedModel, and "
            "writes quality.json, the translations and a side-by-side picture.",
    usage="--bench FOLDER --out FOLDER (--steps N | --minutes M) [train flags]",
    example="python scripts/quality.py --bench=/tmp/photo2ink --out=quality/fast "
            "--preset=fast --minutes=30",
    define_flags=define_flags,
)

if __name__ == "__main__":
    define_config_flags()
    cli.run_command(COMMAND, main, (BenchmarkError, ConfigError, DataError))
