"""`python -m cyclegan_tf.plot`: draw a run's loss and metric curves; see `--help`."""

from __future__ import annotations

import os

from absl import flags

from cyclegan_tf.cli import app
from cyclegan_tf.core.run_folder import RunFolder
from cyclegan_tf.training.curves import plot_run


class PlotError(ValueError):
    """A run folder with nothing to plot."""


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines the plot flags."""
    flags.DEFINE_string("run_dir", None, "Run folder written by cyclegan_tf.train.",
                        flag_values=flag_values)
    flags.DEFINE_string("output", "", "PNG to write; default RUN/curves.png.",
                        flag_values=flag_values)
    flags.mark_flags_as_required(["run_dir"], flag_values=flag_values)


def plot_from_flags(flag_values: flags.FlagValues = flags.FLAGS) -> str:
    """Draws the curves the parsed flags ask for; returns the PNG's path."""
    run = RunFolder(flag_values.run_dir)
    if not os.path.isdir(run.root):
        raise PlotError(f"--run_dir={run.root!r} does not exist; pass a folder written by "
                        "cyclegan_tf.train (e.g. runs/tom2jerry).")
    if not os.path.isdir(run.logs):
        raise PlotError(f"--run_dir={run.root!r} has no logs/ folder, so no curves to draw; "
                        "is it a run folder that has trained?")
    try:
        path = plot_run(run.root, flag_values.output)
    except ValueError as error:
        raise PlotError(f"{run.logs}: {error} (has the run finished a step?)") from None
    print(path)
    return path


COMMAND = app.Command(
    program="cyclegan_tf.plot",
    summary="Draws every scalar a run logged (losses, learning rate, images/s, eval metrics), "
            "raw and smoothed, one panel each, into a PNG.",
    usage="--run_dir RUN [--output RUN/curves.png]",
    example="python -m cyclegan_tf.plot --run_dir runs/tom2jerry",
    define_flags=define_flags,
)


def run() -> None:
    """Console entry point."""
    app.run_command(COMMAND, lambda: plot_from_flags() and None, (PlotError,))


if __name__ == "__main__":
    run()
