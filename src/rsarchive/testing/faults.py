"""Fault injection on the real stack: pause a real ``rsarchive`` process at a chosen line, then stop or
kill a server under it (``tests/faults/``, ``bench/faults.py``).

The library has no test hooks.  A command runs as ``python -m rsarchive.testing.faults CONTROL POINT --
ARGS…``: a trace function (in every thread) watches one function of one rsarchive module, and when the
line holding a given text is about to run for the n-th time, that thread writes ``CONTROL/at`` and waits
for ``CONTROL/go`` (the other threads go on).  Meanwhile the test stops PostgreSQL (``pg_ctl stop -m
immediate``), SIGKILLs or SIGSTOPs SeaweedFS; then it lets the command go on and sees what it does.

The helpers that hurt servers (:func:`crash_postgres`, :func:`restart_postgres`, :func:`kill_seaweed`,
:func:`freeze_seaweed`, :func:`thaw_seaweed`, :func:`restart_seaweed`) act on a stack started for the
purpose, never on a shared one.
"""

from __future__ import annotations

import linecache
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import rsarchive
from rsarchive.errors import ServiceError
from rsarchive.settings import Settings

__all__ = ["Paused", "Point", "crash_postgres", "dedicated_stack", "freeze_seaweed", "kill_seaweed",
           "restart_postgres", "restart_seaweed", "servers_back", "thaw_seaweed"]

PACKAGE = Path(rsarchive.__file__).parent
WAIT_LIMIT_S = 600.0
"""A paused thread goes on by itself after this long (a test that died never leaves a process hanging)."""


@dataclass(frozen=True)
class Point:
    """A line of rsarchive code: in ``module`` (a path under the package, ``jobs/ingest.py``), function
    ``function``, the line containing ``text``, reached for the ``nth`` time."""

    name: str
    module: str
    function: str
    text: str
    nth: int = 1

    def spec(self) -> str:
        return "|".join((self.module, self.function, self.text, str(self.nth)))

    @classmethod
    def parse(cls, spec: str, name: str = "") -> Point:
        module, function, text, nth = spec.split("|")
        return cls(name, module, function, text, int(nth))

    def check(self) -> None:
        """Fail early when the code no longer has this line (the point would never be reached)."""
        path = PACKAGE / self.module
        source = path.read_text().splitlines()
        inside = False
        for line in source:
            stripped = line.strip()
            if stripped.startswith(("def ", "async def ")):
                inside = stripped.split("(")[0].split()[-1] == self.function
            elif inside and self.text in line:
                return
        raise AssertionError(f"fault point {self.name or self.spec()}: no line with {self.text!r} in "
                             f"{self.function}() of {path}")


def pause_here(point: Point, control: Path) -> None:
    """Install the trace: the ``point.nth`` time the point's line is about to run, that thread writes
    ``control/at`` and waits for ``control/go``."""
    filename = str(PACKAGE / point.module)
    seen = 0
    lock = threading.Lock()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal seen
        if event == "line" and point.text in linecache.getline(filename, frame.f_lineno):
            with lock:
                seen += 1
                hit = seen == point.nth
            if hit:
                (control / "at").write_text(f"{os.getpid()} {threading.current_thread().name}\n")
                deadline = time.monotonic() + WAIT_LIMIT_S
                while not (control / "go").exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        return local if code.co_name == point.function and code.co_filename == filename else None

    threading.settrace(tracer)
    sys.settrace(tracer)


class Paused:
    """A command started under :func:`pause_here`: wait until it reaches its point, let it go on."""

    def __init__(self, command: list[str], point: Point, control: Path, env: dict[str, str]) -> None:
        point.check()
        control.mkdir(parents=True, exist_ok=True)
        for name in ("at", "go"):
            (control / name).unlink(missing_ok=True)
        self.control = control
        self.point = point
        self.log = control / "output.log"
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rsarchive.testing.faults", str(control), point.spec(), "--", *command],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_at_point(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not (self.control / "at").exists():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.point.name}: the command ended ({self.process.returncode}) before the "
                                     f"point:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"{self.point.name}: not reached in {timeout:.0f} s:\n{self.output()[-3000:]}")
            time.sleep(0.05)

    def go(self) -> None:
        (self.control / "go").write_text("go\n")

    def finish(self, timeout: float) -> int:
        """The command's exit code (it is killed, and the test fails, when it outlives ``timeout``)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.point.name}: the command hung for {timeout:.0f} s after the fault:\n"
                                 f"{self.output()[-3000:]}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


# -- servers of a stack started for the purpose -----------------------------------------------------
def crash_postgres(settings: Settings) -> None:
    """``pg_ctl stop -m immediate``: every backend ends at once, no checkpoint (crash recovery at start)."""
    from rsarchive.services import postgres

    layout = postgres.PostgresLayout.of(settings)
    done = subprocess.run([*postgres._run_as(), str(postgres.bindir(settings) / "pg_ctl"), "stop", "-D",
                           str(layout.data_dir), "-m", "immediate", "-w", "-t", "60"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServiceError(f"pg_ctl stop -m immediate failed: {done.stderr.strip() or done.stdout.strip()}")


def restart_postgres(settings: Settings) -> float:
    """Start the crashed cluster again; the monotonic time at which it answers again."""
    from rsarchive.db import connect
    from rsarchive.services import postgres

    postgres.start(settings, password="")  # the cluster exists: no initdb, no password needed
    deadline = time.monotonic() + 60
    while True:
        try:
            with connect(settings.internal_database_dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return time.monotonic()
        except ServiceError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def dedicated_stack(**changes: object) -> Iterator[Settings]:
    """A stack of its own (never the shared one, whatever ``RSARCHIVE_TEST_SERVICES`` says): its servers are
    about to be stopped hard, killed and frozen.  Removed afterwards, frozen servers first let go."""
    from rsarchive import services
    from rsarchive.testing import stack

    os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
    root = stack.make_root("rsarchive-faults-")
    settings = stack.isolated_settings(root, **changes)
    try:
        services.up(settings)
        yield settings
    finally:
        try:
            servers_back(settings)
        except ServiceError:
            pass
        try:
            services.down(settings, graceful=False)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def servers_back(settings: Settings) -> None:
    """Both servers of the dedicated stack running and answering (thawed, restarted)."""
    from rsarchive.services import postgres, seaweed

    pid = seaweed._pid(seaweed.SeaweedLayout.of(settings))
    if pid is not None:
        os.kill(pid, signal.SIGCONT)
    if not postgres.running(settings):
        restart_postgres(settings)
    if not seaweed.running(settings):
        restart_seaweed(settings)


def _seaweed_pid(settings: Settings) -> int:
    from rsarchive.services import seaweed

    pid = seaweed._pid(seaweed.SeaweedLayout.of(settings))
    if pid is None:
        raise ServiceError("SeaweedFS of the fault stack is not running")
    return pid


def kill_seaweed(settings: Settings) -> None:
    """SIGKILL SeaweedFS (master, volume, filer and S3 gateway are one process): connections refused."""
    pid = _seaweed_pid(settings)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and ") Z " in stat.read_text():
            break
        time.sleep(0.05)


def freeze_seaweed(settings: Settings) -> int:
    """SIGSTOP SeaweedFS: a hang, not a refusal (the kernel still accepts connections; nothing answers)."""
    pid = _seaweed_pid(settings)
    os.kill(pid, signal.SIGSTOP)
    return pid


def thaw_seaweed(pid: int) -> None:
    os.kill(pid, signal.SIGCONT)


def restart_seaweed(settings: Settings, timeout: float = 90) -> float:
    """Start SeaweedFS again and wait until it stores and reads back an object (its S3 gateway answers
    before its volume server has registered again: reads then fail with InternalError for seconds).
    The monotonic time at which it does."""
    from rsarchive.services import seaweed

    seaweed.start(settings)
    client = seaweed.s3_client(settings, retries=1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.put_object(Bucket=settings.primary_bucket, Key="fault-probe", Body=b"probe")
            if client.get_object(Bucket=settings.primary_bucket, Key="fault-probe")["Body"].read() == b"probe":
                client.delete_object(Bucket=settings.primary_bucket, Key="fault-probe")
                return time.monotonic()
        except Exception:  # noqa: BLE001 - not ready yet, whatever the client says
            if time.monotonic() > deadline:
                raise ServiceError(f"SeaweedFS did not serve reads {timeout:.0f} s after its restart") from None
        time.sleep(0.2)


def _main(argv: list[str]) -> None:
    control, spec, dash, *command = argv
    assert dash == "--", "usage: python -m rsarchive.testing.faults CONTROL POINT -- ARGS…"
    pause_here(Point.parse(spec), Path(control))
    from rsarchive.cli.main import main

    main(command)


if __name__ == "__main__":
    _main(sys.argv[1:])
