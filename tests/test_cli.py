"""The command-line programs as a user meets them: help, flag forms, exit statuses."""

import os
import pathlib
import re
import subprocess
import sys

import pytest
from absl import flags

from conftest import REPO_ROOT
from cyclegan_tf.cli import app
from cyclegan_tf.cli.config_flags import FLAG_GROUPS, expand_bare_flags
from cyclegan_tf.core import presets
from cyclegan_tf.core.configs import Config

COMMANDS = {
    "cyclegan_tf.train": ["--domain_a", "--mixed_precision", "--eval_every_epochs"],
    "cyclegan_tf.export": ["--run_dir", "--precision", "--direction"],
    "cyclegan_tf.translate": ["--model", "--input", "--panel"],
    "cyclegan_tf.evaluate": ["--run_dir", "--truth_b", "--fid"],
    "cyclegan_tf.plot": ["--run_dir", "--output"],
    "scripts/benchmark.py": ["--precision", "--compare", "--export"],
    "scripts/ablation.py": ["--benches", "--rows", "--table_only"],
}


def _run(program: str, *args: str, cwd: str = REPO_ROOT) -> subprocess.CompletedProcess:
    command = ([sys.executable, os.path.join(REPO_ROOT, program)] if program.endswith(".py")
               else [sys.executable, "-m", program])
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # As a user has.
    return subprocess.run(command + list(args), capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.mark.parametrize("program", sorted(COMMANDS))
def test_help_shows_the_programs_own_flags_and_an_example(program):
    result = _run(program, "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("usage: ") and "\nexample:\n  python" in text
    for flag in COMMANDS[program]:
        assert f"  {flag}" in text
    assert "--flagfile" not in text and "--only_check_args" not in text  # absl's own
    assert "--helpfull" in text
    assert max(map(len, text.splitlines())) <= 100
    assert result.stderr.strip() == ""  # No TensorFlow start-up chatter either.


def test_train_help_groups_flags_by_purpose():
    text = _run("cyclegan_tf.train", "--help").stdout
    headings = re.findall(r"^(\w+):$", text, flags=re.M)
    assert headings == ["example", *FLAG_GROUPS]
    assert "--mixed_precision=MIXED_PRECISION" in text and "(default: 'float32')" not in text


def test_every_config_field_is_in_exactly_one_help_group():
    grouped = [name for names in FLAG_GROUPS.values() for name in names]
    fields = set(Config.__dataclass_fields__) | {"list_presets"}
    assert sorted(grouped) == sorted(fields)


def test_list_presets_prints_the_readme_table():
    result = _run("cyclegan_tf.train", "--list_presets")
    assert result.returncode == 0
    assert result.stdout.strip() == presets.table()
    readme = pathlib.Path(REPO_ROOT, "README.md").read_text()
    assert presets.table() in readme


@pytest.mark.parametrize("argv, expected", [
    (["--mixed_precision", "auto"], ["--mixed_precision", "auto"]),
    (["--mixed_precision"], ["--mixed_precision=auto"]),
    (["--mixed_precision", "--epochs=1"], ["--mixed_precision=auto", "--epochs=1"]),
    (["--nomixed_precision"], ["--mixed_precision=float32"]),
])
def test_bare_mixed_precision_expands_only_without_a_value(argv, expected):
    assert expand_bare_flags(["prog", *argv]) == ["prog", *expected]


@pytest.mark.parametrize("form", [["--mixed_precision", "bf16"], ["--mixed_precision=bf16"],
                                  ["--generator", "resnet"], ["--generator=resnet"]])
def test_both_flag_forms_reach_the_config(form, tmp_path):
    # A run on a missing data folder fails after parsing: the error shows what was parsed.
    result = _run("cyclegan_tf.train", *form, "--data_dir", str(tmp_path / "none"),
                  "--output_dir", str(tmp_path / "run"))
    assert "Unexpected arguments" not in result.stderr
    assert result.returncode == 2 and "cyclegan_tf.train: error:" in result.stderr


def test_old_precision_spellings_are_read_as_the_vocabulary():
    assert Config(mixed_precision="off").mixed_precision == "float32"
    assert Config.from_dict({"mixed_precision": "bfloat16"}).mixed_precision == "bf16"


@pytest.mark.parametrize("program, args, words", [
    ("cyclegan_tf.train", ["--imagesize=64"], "imagesize"),
    ("cyclegan_tf.train", ["--epochs=two"], "epochs"),
    ("cyclegan_tf.train", ["--eval_fid", "true"], "Unexpected arguments: true"),
    ("cyclegan_tf.translate", ["--direction=sideways", "--model=m", "--input=i", "--output=o"],
     "--direction=sideways"),
    ("cyclegan_tf.translate", ["--input=i", "--output=o"], "--model"),
])
def test_flag_errors_are_one_line_with_status_2(program, args, words):
    result = _run(program, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: ") and words in lines[0]


@pytest.mark.parametrize("given, read", [("bfloat16", "bf16"), ("mixed_bfloat16", "bf16"),
                                         ("off", "float32"), ("auto", "auto")])
def test_precision_flags_read_the_older_spellings(given, read):
    values = flags.FlagValues()
    app.define_precision_flag("precision", "auto", ("float32", "bf16", "auto"), "What.",
                              flag_values=values)
    values(["prog", f"--precision={given}"])
    assert values.precision == read


def test_precision_flags_refuse_a_precision_they_do_not_offer():
    values = flags.FlagValues()
    app.define_precision_flag("precision", "auto", ("float32", "bf16", "auto"), "What.",
                              flag_values=values)
    with pytest.raises(flags.IllegalFlagValueError, match="float32"):
        values(["prog", "--precision=float16"])


def test_ablation_script_names_a_missing_benchmark_and_tabulates_an_empty_folder(tmp_path):
    missing = _run("scripts/ablation.py", "--benches", str(tmp_path / "none"), "--out",
                   str(tmp_path / "ab"), "--steps=2")
    assert missing.returncode == 2 and "none is not a folder" in missing.stderr
    empty = _run("scripts/ablation.py", "--out", str(tmp_path / "ab"), "--table_only")
    assert empty.returncode == 0 and "No finished runs" in empty.stdout


@pytest.mark.parametrize("program, args, words", [
    ("cyclegan_tf.export", ["--run_dir", "/nonexistent/run", "--output", "/tmp/x"],
     "does not exist"),
    ("cyclegan_tf.translate", ["--model", "/nonexistent/model", "--input",
                               os.path.join(REPO_ROOT, "data", "tom", "test"),
                               "--output", "/tmp/x"], "does not exist"),
    ("cyclegan_tf.evaluate", ["--run_dir", "/nonexistent/run"], "does not exist"),
    ("cyclegan_tf.plot", ["--run_dir", "/nonexistent/run"], "does not exist"),
])
def test_missing_paths_are_one_line_errors(program, args, words):
    result = _run(program, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr
