"""The ablation table: the quality harness run over a fixed list of configurations.

`ROWS` names every configuration the README's ablation table reports: each preset as it
is, the `paper` preset with each quality option alone, `fast` (the best combination found)
with each of its parts taken out (bf16 among them: the default precision's test), and the
first `fast` preset (`fast_v1`), all at the benchmark's 128 px and in bf16 where the CPU has
it (`COMMON`). `run_rows` trains and scores the rows one at a time with `run_benchmark`, in
`OUT/STYLE/ROW/runK/`; run K trains with the row's seed + K - 1, so a repeat differs by its
random start and data order, not only by how many steps the machine gave it. A row whose
`quality.json` exists is skipped, so a table that takes many hours can be stopped and
continued. `markdown_table` reads every result under `OUT` into the table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from cyclegan_tf.core.configs import CONFIG_FILENAME, Config, ConfigError, load_config
from cyclegan_tf.core.presets import preset_config
from cyclegan_tf.tools.quality import RESULT_FILE, BenchmarkError, check_bench, run_benchmark

# What every row shares: the benchmark's size, and the same precision for every row.
COMMON: Mapping[str, Any] = {"image_size": 128, "mixed_precision": "auto"}


@dataclasses.dataclass(frozen=True)
class Row:
    """One configuration of the table: a preset and the flags that change it."""

    name: str
    preset: str
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def config(self, common: Mapping[str, Any] = COMMON) -> Config:
        """The configuration this row trains (`common` first, the row's flags on top)."""
        return preset_config(self.preset, **{**common, **self.overrides})

    def flags(self) -> str:
        """The row as `cyclegan_tf.train` flags (without `COMMON`)."""
        return " ".join([f"--preset={self.preset}"] +
                        [f"--{key}={_flag_value(value)}" for key, value in self.overrides.items()])


def _flag_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "''" if value == "" else str(value)


# The first `fast` preset (README, round six): a colour map held near its start by the L1
# colour anchor and a weak cycle loss, trained at a constant learning rate.
FAST_V1: Mapping[str, Any] = {"local_layers": 0, "lambda_cycle": 1.0, "lambda_color": 10.0,
                              "lambda_hue": 0.0, "scale_hue_by_chroma": False, "epochs": 30,
                              "lr_schedule": "constant", "decay_epochs": 0}

ROWS: tuple[Row, ...] = (
    Row("tom2jerry", "tom2jerry"),
    Row("jojo", "jojo"),
    Row("face2anime", "face2anime"),
    Row("human2cartoon", "human2cartoon"),
    Row("selfie2anime", "selfie2anime"),
    Row("paper", "paper"),
    Row("paper+resize", "paper", {"upsample": "resize"}),
    Row("paper+antialias", "paper", {"antialias": True}),
    Row("paper+identity_start", "paper", {"identity_start": True}),
    Row("paper+ema", "paper", {"ema_decay": 0.999}),
    Row("paper+diffaugment", "paper", {"diffaugment": "color,translation,cutout"}),
    Row("paper+lambda_color", "paper", {"lambda_color": 10.0}),
    Row("fast", "fast"),
    Row("fast_v1", "fast", FAST_V1),
    Row("fast-color_transfer", "fast", {"color_transfer": "none", "scale_hue_by_chroma": False}),
    Row("fast-local_layers", "fast", {"local_layers": 0}),
    Row("fast+lambda_cycle", "fast", {"lambda_cycle": 1.0}),
    Row("fast-lambda_color", "fast", {"lambda_color": 0.0}),
    Row("fast-lambda_hue", "fast", {"lambda_hue": 0.0, "scale_hue_by_chroma": False}),
    Row("fast-scale_hue_by_chroma", "fast", {"scale_hue_by_chroma": False}),
    Row("fast-decay", "fast", {"lr_schedule": "constant"}),
    Row("fast-diffaugment", "fast", {"diffaugment": ""}),
    Row("fast-ema", "fast", {"ema_decay": 0.0}),
    Row("fast-pool", "fast", {"pool_size": 0}),
    Row("fast-bf16", "fast", {"mixed_precision": "float32"}),
)
ROWS_BY_NAME = {row.name: row for row in ROWS}


def select_rows(names: Sequence[str]) -> tuple[Row, ...]:
    """The rows named (all of them for an empty list), in the table's order."""
    unknown = [name for name in names if name not in ROWS_BY_NAME]
    if unknown:
        raise BenchmarkError(f"--rows: unknown row(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(ROWS_BY_NAME)}.")
    return tuple(row for row in ROWS if not names or row.name in names)


def style_of(bench_dir: str) -> str:
    """The benchmark's style from its manifest (`ink`, `pastel`), else the folder's name."""
    try:
        with open(os.path.join(bench_dir, "manifest.json")) as f:
            return str(json.load(f)["style"])
    except (OSError, ValueError, KeyError, TypeError):
        return os.path.basename(os.path.normpath(bench_dir))


def result_dir(out_dir: str, style: str, row: Row, run: int) -> str:
    """Where run number `run` of `row` on `style` writes its results."""
    return os.path.join(out_dir, style, row.name, f"run{run}")


def run_rows(rows: Sequence[Row], benches: Sequence[str], out_dir: str, *, steps: int = 0,
             minutes: float = 0.0, evaluations: int = 3, run: int = 1,
             common: Mapping[str, Any] = COMMON, out: TextIO = sys.stdout) -> list[str]:
    """Runs the harness for every row on every benchmark, one at a time, and says how far.

    Run `run` trains with each row's seed + `run` - 1. Each run's training output goes to
    `log.txt` beside its results; a run whose results exist is skipped. Returns the folders
    of the runs made or found.
    """
    if run < 1:
        raise BenchmarkError("--run must be 1 or more.")
    configs = {}  # Bad input fails before any run.
    for row in rows:
        config = row.config(common).validate()
        configs[row.name] = config.replace(seed=config.seed + run - 1)
    for bench in benches:
        check_bench(bench)
    jobs = [(row, bench) for row in rows for bench in benches]
    done = []
    for number, (row, bench) in enumerate(jobs, 1):
        style = style_of(bench)
        folder = result_dir(out_dir, style, row, run)
        done.append(folder)
        if os.path.exists(os.path.join(folder, RESULT_FILE)):
            print(f"[{number}/{len(jobs)}] {style} {row.name}: done before, kept.", file=out)
            continue
        _check_unfinished_seed(folder, configs[row.name].seed)
        os.makedirs(folder, exist_ok=True)
        budget = f"{steps} steps" if steps else f"{minutes:g} minutes"
        print(f"[{number}/{len(jobs)}] {style} {row.name} "
              f"({_run_flags(row, configs[row.name].seed)}), {budget}; log in "
              f"{os.path.join(folder, 'log.txt')}", file=out, flush=True)
        started = time.time()
        with open(os.path.join(folder, "log.txt"), "a") as log:
            results = run_benchmark(configs[row.name], bench, folder, steps=steps,
                                    minutes=minutes, evaluations=evaluations, out=log,
                                    notes=[f"ablation row {row.name}: "
                                           f"{_run_flags(row, configs[row.name].seed)}"])
        gain = results["final"]["psnr"] - results["copying"]["psnr"]
        print(f"    {gain:+.2f} dB vs copying, SSIM {results['final']['ssim']:.3f}, "
              f"{results['steps']} steps, {(time.time() - started) / 60:.1f} min in all.",
              file=out, flush=True)
    return done


def _check_unfinished_seed(folder: str, seed: int) -> None:
    """Refuses to continue a stopped run that trained with another seed than this one."""
    saved = os.path.join(folder, "run", CONFIG_FILENAME)
    if os.path.exists(saved):
        had = load_config(saved).seed
        if had != seed:
            raise BenchmarkError(
                f"{folder} holds a stopped run trained with --seed={had}, and this run trains "
                f"with --seed={seed}; delete {folder} to start it again.")


# Fields a run's config may differ in from its row's: what the harness sets
# (`benchmark_config`), the run's seed, and a constant schedule's epochs (stretched to fill
# the budget).
_RUN_FIELDS = ("data_dir", "layout", "output_dir", "eval_every_epochs", "keep_best",
               "eval_fid", "seed")


def _ran_as_row(results: Mapping[str, Any], row: Row, common: Mapping[str, Any]) -> bool:
    """Whether a finished run trained the row's configuration as the row stands now."""
    try:
        ran = Config.from_dict(results.get("config", {})).to_dict()
    except (ConfigError, TypeError):  # Saved by a version with other settings.
        return False
    now = row.config(common).to_dict()
    ignored = set(_RUN_FIELDS) | ({"epochs"} if now["lr_schedule"] == "constant" else set())
    return all(ran[key] == value for key, value in now.items() if key not in ignored)


def _results(out_dir: str) -> Iterable[tuple[str, Row, int, dict[str, Any]]]:
    """(style, row, run, results) for every finished run under `out_dir`, in table order."""
    styles = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
    for style in styles:
        for row in ROWS:
            folder = os.path.join(out_dir, style, row.name)
            names = os.listdir(folder) if os.path.isdir(folder) else []
            runs = sorted(int(name[3:]) for name in names
                          if name.startswith("run") and name[3:].isdigit())
            for run in runs:
                path = os.path.join(result_dir(out_dir, style, row, run), RESULT_FILE)
                if os.path.exists(path):
                    with open(path) as f:
                        yield style, row, run, json.load(f)


def _run_flags(row: Row, seed: int) -> str:
    """The row's flags, with the seed when a run trained with another than the default."""
    return row.flags() + (f" --seed={seed}" if seed else "")


def markdown_table(out_dir: str, common: Mapping[str, Any] = COMMON) -> str:
    """Every finished run under `out_dir` as the README's table, with copying as each
    style's first row and the machine the runs were measured on. A run whose configuration
    is no longer its row's (the row or its preset changed since) is left out and named."""
    stale = []
    lines = ["| style | row | flags | run | steps | PSNR at each evaluation (dB) | SSIM | "
             "vs copying |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    machines, copied = set(), set()
    for style, row, run, results in _results(out_dir):
        if not _ran_as_row(results, row, common):
            stale.append(result_dir(out_dir, style, row, run))
            continue
        copying = results["copying"]
        if style not in copied:
            copied.add(style)
            lines.append(f"| {style} | copying the input | | | | {copying['psnr']:.2f} | "
                         f"{copying['ssim']:.3f} | 0 |")
        history = " / ".join(f"{h['psnr']:.2f}" for h in results["history"])
        gain = results["final"]["psnr"] - copying["psnr"]
        flags = _run_flags(row, results.get("config", {}).get("seed", 0))
        lines.append(f"| {style} | {row.name} | `{flags}` | {run} | {results['steps']} | "
                     f"{history} | {results['final']['ssim']:.3f} | {gain:+.2f} |")
        machine = results.get("machine", {})
        machines.add(f"{machine.get('cpu', '?')} ({', '.join(machine.get('cpu_flags', []))})")
    left_out = (["Left out, trained before their row changed: " + ", ".join(stale) + "."]
                if stale else [])
    if not copied:
        return "\n".join([f"No finished runs under {out_dir}."] + left_out)
    return "\n".join(lines + ["", "Measured on: " + "; ".join(sorted(machines)) + "."]
                     + left_out)
