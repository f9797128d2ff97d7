"""Run the README's ablation table: the quality harness over every preset and option.

    python ../shared/bench/make_photo2ink.py --out /tmp/photo2ink --size 128 --seed 1
    python ../shared/bench/make_photo2ink.py --out /tmp/photo2pastel --size 128 --seed 1 --style pastel
    python scripts/ablation.py --benches=/tmp/photo2ink,/tmp/photo2pastel --out=ablation30 \
        --minutes=30 --rows=paper,fast
    python scripts/ablation.py --out=ablation30 --table_only

Each row (`cyclegan_tf/tools/ablation.py`: each preset as it is, `paper` with each quality
option alone, `fast` without each of its parts, and `fast_v1`, the first `fast` preset) is
trained on each benchmark for the same budget, one run at a time, at 128 px and in bf16
where the CPU has it. Finished runs are kept, so the same command continues a stopped
table; `--run=2` makes a repeat with the next seed (run K trains with --seed=K-1). At the
end (or with --table_only) it prints the table of every finished run under --out (leaving
out, by name, runs made before their row changed) and writes it to OUT/ablation.md.
"""

from __future__ import annotations

import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cyclegan_tf.cli.quiet import import_tensorflow_quietly

import_tensorflow_quietly(sys.argv)

from cyclegan_tf.cli import app as cli
from cyclegan_tf.core.configs import ConfigError
from cyclegan_tf.core.files import atomic_write_text
from cyclegan_tf.data.pipeline import DataError
from cyclegan_tf.tools.ablation import ROWS, markdown_table, run_rows, select_rows
from cyclegan_tf.tools.quality import BenchmarkError, BenchmarkInterrupted
from cyclegan_tf.train import EXIT_UNFINISHED

FLAGS = flags.FLAGS


def define_flags(flag_values: flags.FlagValues = FLAGS) -> None:
    """The script's flags."""
    del flag_values  # The script's flags live in absl's global FLAGS.
    flags.DEFINE_list("benches", [], "Benchmark folders (trainA/, trainB/, testA/, "
                      "testB_truth/), e.g. the ink and the pastel one.")
    flags.DEFINE_string("out", None, "Where every run's results go (OUT/STYLE/ROW/runK/) and "
                        "the table (OUT/ablation.md).")
    flags.DEFINE_list("rows", [], "Rows to run, in the table's order; empty is all: "
                      + ", ".join(row.name for row in ROWS) + ".")
    flags.DEFINE_integer("steps", 0, "Budget of each run in training steps.")
    flags.DEFINE_float("minutes", 0.0, "Budget of each run in minutes of the training loop.")
    flags.DEFINE_integer("evaluations", 3, "Scorings during each run, at equal parts of its "
                         "budget.")
    flags.DEFINE_integer("run", 1, "Which run of each row to make: 2 or more repeats it, "
                         "trained with the row's seed + run - 1.")
    flags.DEFINE_bool("table_only", False, "Only print (and write) the table of the runs "
                      "already finished under --out.")


def main() -> None:
    """Runs the rows the flags name, then prints and writes the table."""
    if not FLAGS.out:
        raise BenchmarkError("--out=FOLDER is required.")
    if not FLAGS.table_only:
        if not FLAGS.benches:
            raise BenchmarkError("--benches=FOLDER[,FOLDER] is required (or --table_only).")
        try:
            run_rows(select_rows(FLAGS.rows), FLAGS.benches, FLAGS.out, steps=FLAGS.steps,
                     minutes=FLAGS.minutes, evaluations=FLAGS.evaluations, run=FLAGS.run)
        except BenchmarkInterrupted as stopped:
            print(stopped)
            sys.exit(EXIT_UNFINISHED)
    table = markdown_table(FLAGS.out)
    print(table)
    if os.path.isdir(FLAGS.out):
        written = atomic_write_text(os.path.join(FLAGS.out, "ablation.md"), table + "\n")
        print(f"Wrote {written}.")


COMMAND = cli.Command(
    program="scripts/ablation.py",
    summary="Runs the quality harness (scripts/quality.py) over the ablation table's rows "
            "(each preset, the paper preset with each quality option alone, fast without "
            "each of its parts) on each benchmark for the same budget, one run at a time, "
            "keeping finished runs, and prints the table as Markdown.",
    usage="--benches FOLDER[,FOLDER] --out FOLDER (--steps N | --minutes M) [--rows ROW,...]",
    example="python scripts/ablation.py --benches=/tmp/photo2ink,/tmp/photo2pastel "
            "--out=ab30 --minutes=30",
    define_flags=define_flags,
)

if __name__ == "__main__":
    cli.run_command(COMMAND, main, (BenchmarkError, ConfigError, DataError))
