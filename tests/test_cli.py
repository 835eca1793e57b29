from __future__ import annotations

import subprocess
import sys
import time

import rsarchive


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rsarchive", *args], capture_output=True, text=True, timeout=120)


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"rsarchive, version {rsarchive.__version__}"


def test_help_lists_discovered_commands_and_is_fast() -> None:
    start = time.perf_counter()
    result = run("--help")
    elapsed = time.perf_counter() - start
    assert result.returncode == 0
    assert "services" in result.stdout
    assert "-v, --verbose" in result.stdout and "-q, --quiet" in result.stdout
    # Heavy libraries load where they are used, not for --help.
    assert elapsed < 10


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from rsarchive.cli.main import cli, main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('rasterio', 'dask', 'boto3', 'numpy', 'psycopg') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="


def test_unknown_command_is_a_usage_error() -> None:
    result = run("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr
    assert "Traceback" not in result.stderr


def test_library_error_is_one_line_without_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env_root = blocker / "root"  # a path below a regular file: cannot be created
    result = subprocess.run(
        [sys.executable, "-m", "rsarchive", "services", "up"],
        capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "RSARCHIVE_ARCHIVE_ROOT": str(env_root), "RSARCHIVE_PG_PORT": "1"},
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rsarchive: error: archive root") and "not usable" in lines[0]
