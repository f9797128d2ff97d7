"""`python -m cyclegan_tf.evaluate`: metrics of a trained CycleGAN; see `--help`."""

from __future__ import annotations

from typing import Any

from absl import flags

from cyclegan_tf.cli import app
from cyclegan_tf.core.configs import ConfigError
from cyclegan_tf.data.pipeline import DataError
from cyclegan_tf.evaluation.evaluate import EvaluationError, evaluate_run
from cyclegan_tf.inference.generators import ExportError


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines the evaluation flags."""
    define = {"string": flags.DEFINE_string, "bool": flags.DEFINE_bool,
              "integer": flags.DEFINE_integer}
    for kind, name, default, help_text in (
        ("string", "run_dir", "", "Training run folder (config.json, checkpoints/)."),
        ("string", "checkpoint", "", "With --run_dir: checkpoint prefix or folder to evaluate "
         "(e.g. RUN/best); default the newest that restores."),
        ("string", "model", "", "Instead of --run_dir: a SavedModel folder exported with "
         "--direction both (needs --input_a and --input_b)."),
        ("string", "input_a", "", "Folder of domain A test images; default the run's."),
        ("string", "input_b", "", "Folder of domain B test images; default the run's."),
        ("string", "truth_b", "", "Folder of ground-truth B images named like the A test "
         "images: adds paired PSNR, SSIM and L1 of G(A)."),
        ("bool", "fid", False, "Also compute FID and KID (needs the InceptionV3 weights)."),
        ("string", "inception_weights", "", "InceptionV3 no-top weights file (.h5); default the "
         "Keras cache (~/.keras/models). Implies --fid."),
        ("string", "output_dir", "", "Where metrics.json goes; default RUN/eval."),
        ("integer", "batch_size", 8, "Images per translation batch."),
    ):
        define[kind](name, default, help_text, flag_values=flag_values)


def evaluate_from_flags(flag_values: flags.FlagValues = flags.FLAGS) -> dict[str, Any]:
    """Runs the evaluation the parsed flags describe; returns the report."""
    names = ("model", "checkpoint", "input_a", "input_b", "truth_b", "fid", "inception_weights",
             "output_dir", "batch_size")
    return evaluate_run(flag_values.run_dir, **{name: flag_values[name].value for name in names})


COMMAND = app.Command(
    program="cyclegan_tf.evaluate",
    summary="Translates the test images of both domains both ways and reports cycle L1 and "
            "PSNR and identity L1; with --truth_b paired PSNR, SSIM and L1 of G(A); with "
            "--fid FID and KID. The table is printed and written to RUN/eval/metrics.json.",
    usage="--run_dir RUN [--checkpoint PATH] [--input_a A --input_b B] [--truth_b DIR] [--fid]"
          "\npython -m cyclegan_tf.evaluate --model SAVEDMODEL --input_a A --input_b B",
    example="python -m cyclegan_tf.evaluate --run_dir runs/tom2jerry",
    define_flags=define_flags,
)


def run() -> None:
    """Console entry point."""
    app.run_command(COMMAND, lambda: evaluate_from_flags() and None,
                    (EvaluationError, ConfigError, DataError, ExportError))


if __name__ == "__main__":
    run()
