"""The layers of the library are a checked contract (``[tool.importlinter]`` in pyproject.toml).

``lint-imports`` (import-linter) keeps them on the source tree; the same contracts, on a
copy of the tree where one pure module gains one import of a stage, a store, the catalog
or the web layer, are broken — so the check is one that can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(src: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT), "--no-cache", str(ROOT / "pyproject.toml")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_source_tree_keeps_every_contract(tmp_path: Path) -> None:
    run = _lint(ROOT / "src", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout and "KEPT" in run.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("geometry/rpc.py", "import rsarchive.raw.process", "Pure computation"),
    ("radiometry/toa.py", "from rsarchive.product import process", "Pure computation"),
    ("geometry/ortho.py", "import rsarchive.storage.archive", "Pure computation"),
    ("level0/frames.py", "from rsarchive.catalog import items", "Pure computation"),
    ("cog/writer.py", "import rsarchive.api.app", "Pure computation"),
    ("storage/keys.py", "import rsarchive.catalog.items", "Layers"),
    ("users/tokens.py", "import fastapi", "web framework"),
    ("storage/base.py", "from rsarchive.storage import s3", "store protocol"),
])
def test_a_forbidden_import_breaks_the_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "rsarchive", src / "rsarchive", ignore=shutil.ignore_patterns("__pycache__"))
    target = src / "rsarchive" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    run = _lint(src, tmp_path)
    assert run.returncode != 0, run.stdout
    broken = [text for text in run.stdout.split("\n\n") if "BROKEN" in text]
    assert any(contract in text for text in broken), run.stdout
    assert module.replace("/", ".").removesuffix(".py") in run.stdout  # the report names the importer
