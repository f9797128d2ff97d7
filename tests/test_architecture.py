"""The package's shape: the import rule between its storeys, and one owner per fact."""

import ast
import pathlib
import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

PACKAGE = pathlib.Path(REPO_ROOT) / "cyclegan_tf"
GROUND = {"core", "data", "nets"}
# What each storey may import (besides the ground floor, which everyone may).
ALLOWED = {
    "ground": set(),
    "training": {"training"},
    "inference": {"inference"},
    "evaluation": {"evaluation", "inference"},
    "tools": {"tools", "training", "inference", "evaluation"},
    "cli": {"cli"},
    "command": {"cli", "training", "inference", "evaluation", "tools"},
}
COMMANDS = {"train", "export", "translate", "evaluate", "plot"}


def storey(module: str) -> str:
    """The storey of a dotted module name inside cyclegan_tf."""
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    top = parts[1]
    if top in GROUND:
        return "ground"
    if top in COMMANDS:
        return "command"
    return top


def package_modules() -> dict[str, pathlib.Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        modules[name] = path
    return modules


def imported(path: pathlib.Path) -> set[str]:
    """The cyclegan_tf modules `path` imports (anywhere in the file)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    modules = package_modules()
    return {name for name in names if name in modules and name.startswith("cyclegan_tf.")}


def test_every_storey_imports_only_what_the_rule_allows():
    broken = []
    for name, path in package_modules().items():
        own = storey(name)
        if own == "api":
            continue
        for target in imported(path):
            other = storey(target)
            if other in ("ground", "api") and not (own == "ground" and other == "api"):
                continue
            if other not in ALLOWED[own]:
                broken.append(f"{name} ({own}) imports {target} ({other})")
    assert not broken, "\n".join(broken)


def test_the_storeys_are_the_folders_the_docs_name():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == GROUND | {"training", "inference", "evaluation", "tools", "cli"}
    readme = (pathlib.Path(REPO_ROOT) / "README.md").read_text()
    for folder in folders:
        assert f"`cyclegan_tf/{folder}/`" in readme


def test_every_file_the_readme_names_exists():
    readme = (pathlib.Path(REPO_ROOT) / "README.md").read_text()
    named = set(re.findall(r"\b((?:cyclegan_tf|scripts|tests)/[\w/]+\.py)\b", readme))
    assert len(named) > 10
    missing = sorted(p for p in named if not (pathlib.Path(REPO_ROOT) / p).is_file())
    assert not missing, f"README.md names files that do not exist: {missing}"


@pytest.mark.parametrize("literal", ['"checkpoints"', '"config.json"', '"samples"',
                                     '"skipped_files.jsonl"', '"scan_cache.json"'])
def test_the_run_folder_has_one_owner(literal):
    owners = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
              if literal in path.read_text()]
    assert owners == ["core/run_folder.py"]


def test_atomic_writes_have_one_owner():
    owners = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
              if "os.replace(tmp" in path.read_text()]
    assert owners == ["core/files.py"]


def test_translating_never_loads_the_trainer():
    code = ("import sys, cyclegan_tf.inference.translate, cyclegan_tf.evaluation.evaluate; "
            "print(sorted(m for m in sys.modules if m.startswith('cyclegan_tf.training')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_the_package_never_imports_test_only_packages():
    # scipy and pytest come with the test extra only; the plain install must not need them.
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("scipy", "pytest") for n in names), path


def test_python_api_names_resolve():
    import cyclegan_tf
    from cyclegan_tf import Config, Translator, export_model, fit, presets

    assert Config().preset == presets.DEFAULT_PRESET
    assert callable(fit) and callable(export_model) and isinstance(Translator, type)
    assert set(cyclegan_tf.__all__) >= {"Config", "presets", "fit", "export_model", "Translator"}
    with pytest.raises(AttributeError):
        cyclegan_tf.no_such_name  # noqa: B018
