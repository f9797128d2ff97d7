"""The README's Python API example runs as written."""

import os
import pathlib
import re
import subprocess
import sys

from conftest import REPO_ROOT


def test_readme_python_api_example_runs(tmp_path):
    readme = pathlib.Path(REPO_ROOT, "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    os.symlink(os.path.join(REPO_ROOT, "data"), tmp_path / "data")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^1 \{'gen_g': ", result.stdout, flags=re.M), result.stdout[-2000:]
    assert (tmp_path / "models" / "api_demo" / "1" / "saved_model.pb").exists()
    assert (tmp_path / "cartoon.png").stat().st_size > 0
