"""The built wheel works installed anywhere (issue #25, part 5).

The wheel is built from a copy of the sources and installed (without dependencies) into a
fresh virtual environment that reuses the test environment's third-party packages through a
path file — but not its editable rsarchive, whose path hook only a site directory would run.
The commands then run from an unrelated directory with a clean environment: nothing points
at the source tree, so configuration, CPFs, mission profiles and pipelines can only come from
the package, and the archive root must default to a place outside the installation.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from rsarchive.resources import checkout_root

SOURCE = checkout_root()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SOURCE is None, reason="needs the source checkout to build the wheel from"),
]


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env(home: Path, venv: Path) -> dict[str, str]:
    """No RSARCHIVE_*, PYTHONPATH or XDG setting of the caller; a home of our own."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("RSARCHIVE_", "PYTHON", "XDG_", "VIRTUAL_ENV", "PIP_"))}
    return keep | {"HOME": str(home), "PATH": f"{venv / 'bin'}{os.pathsep}{keep.get('PATH', '')}",
                   "VIRTUAL_ENV": str(venv)}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its directory."""
    assert SOURCE is not None
    work = tmp_path_factory.mktemp("wheel")
    project = work / "project"
    project.mkdir()
    shutil.copytree(SOURCE / "src", project / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(SOURCE / name, project / name)
    dist = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(project)], work,
         dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"), timeout=300)
    (wheel,) = dist.glob("rsarchive-*.whl")

    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], work, dict(os.environ))
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], work,
                   dict(os.environ)).strip()
    # The test environment's site-packages as plain path entries, after the venv's own: their
    # .pth files (the editable rsarchive's among them) are not run.
    (Path(purelib) / "_rsarchive_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--ignore-installed",
          "--no-index", "--quiet", str(wheel)], work, dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    return venv


def test_wheel_runs_from_an_unrelated_directory(installed: Path, tmp_path: Path) -> None:
    assert SOURCE is not None
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = _clean_env(home, installed)
    exe = str(installed / "bin" / "rsarchive")

    # The package and its data come from the venv, not from src/.
    probe = ("import json, rsarchive; from rsarchive.cpf import load_cpf; from rsarchive.jobs.pipeline import "
             "load_pipeline; from rsarchive.level0.profiles import load_profile; from rsarchive.resources import "
             "checkout_root, template_dirs; print(json.dumps([rsarchive.__file__, load_cpf('vnredsat1-small').source, "
             "load_pipeline('ingest-level0-small').cpf, load_profile('vnredsat1').name, str(checkout_root()), "
             "[str(d) for d in template_dirs()]]))")
    package, cpf_source, pipeline_cpf, profile, checkout, templates = json.loads(
        _run([str(installed / "bin" / "python"), "-c", probe], elsewhere, env))
    purelib = Path(package).parents[1]
    assert purelib.is_relative_to(installed) and not Path(package).is_relative_to(SOURCE)
    assert Path(cpf_source) == purelib / "rsarchive" / "data" / "cpf" / "vnredsat1-small.json"
    assert (pipeline_cpf, profile, checkout) == ("vnredsat1-small", "vnredsat1", "None")
    assert templates == [str(purelib / "rsarchive" / "data" / "templates")]
    assert (purelib / "rsarchive" / "data" / "templates" / "base.html").is_file()

    downlink = elsewhere / "pass.cadu"
    _run([exe, "simulate", "downlink", "--cpf", "vnredsat1-small", "--out", str(downlink)], elsewhere, env)
    assert downlink.stat().st_size > 0
    quality = json.loads(_run([exe, "level0", "inspect", str(downlink), "--profile", "vnredsat1", "--json"],
                              elsewhere, env))
    assert quality["cadus_found"] > 0 and quality["frames_bad_fecf"] == quality["frames_lost"] == 0
    shown = json.loads(_run([exe, "config", "show", "--json"], elsewhere, env))
    root = Path(shown["archive_root"])
    assert root == home / ".local" / "share" / "rsarchive"  # XDG default: neither the venv nor the sources
    assert not root.is_relative_to(installed) and not root.is_relative_to(SOURCE)
    assert Path(shown["settings_file"]) == purelib / "rsarchive" / "data" / "rsarchive.toml"

    # A site directory overrides the shipped settings and adds a CPF.
    site_dir = tmp_path / "site"
    (site_dir / "cpf").mkdir(parents=True)
    (site_dir / "rsarchive.toml").write_text('api_port = 9300\narchive_root = "/srv/rsarchive-test"\n')
    shutil.copy(purelib / "rsarchive" / "data" / "cpf" / "vnredsat1-small.json", site_dir / "cpf" / "site-cpf.json")
    env_site = env | {"RSARCHIVE_SITE_DIR": str(site_dir)}
    shown = json.loads(_run([exe, "config", "show", "--json"], elsewhere, env_site))
    assert (shown["api_port"], shown["archive_root"], shown["site_dir"]) == (9300, "/srv/rsarchive-test", str(site_dir))
    _run([exe, "simulate", "downlink", "--cpf", "site-cpf", "--out", str(elsewhere / "site.cadu")], elsewhere,
         env_site)
