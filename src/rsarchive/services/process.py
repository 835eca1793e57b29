"""Process and port helpers for the local services: port probes, pid files,
waiting for readiness, stopping what we started."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from rsarchive.errors import ServiceError

log = logging.getLogger(__name__)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on ``host:port`` (or the port cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((host, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as servers use it: a port in TIME_WAIT after a stop is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (and is not a zombie)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_pid(path: Path) -> int | None:
    """The pid in a pid file (first line), or None when absent or unreadable."""
    try:
        first = path.read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, ValueError, IndexError):
        return None


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2,
               alive: Callable[[], bool] | None = None, log_file: Path | None = None) -> None:
    """Poll ``check`` until it is true; raise :class:`ServiceError` after ``timeout`` seconds
    or as soon as ``alive`` says the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise ServiceError(f"{what} exited during start-up{_log_hint(log_file)}")
        time.sleep(interval)
    raise ServiceError(f"{what} did not become ready within {timeout:.0f} s{_log_hint(log_file)}")


def _log_hint(log_file: Path | None) -> str:
    if log_file is None or not log_file.exists():
        return ""
    lines = [ln for ln in log_file.read_text(errors="replace").splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln[:1] in ("F", "E") or "FATAL" in ln or "ERROR" in ln]
    last = (fatal or lines)[-1:] if lines else []
    return f" (see {log_file}{': ' + last[0][:200] if last else ''})"


def stop_pid(pid: int, what: str, timeout: float = 20.0) -> None:
    """SIGTERM a process group (or process), then SIGKILL after ``timeout`` (at once when 0)."""
    steps = ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)) if timeout > 0 else ((signal.SIGKILL, 5.0),)
    for sig, wait in steps:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not pid_alive(pid):
                return
            time.sleep(0.1)
        log.warning("%s (pid %d) did not stop on %s", what, pid, sig.name)
    raise ServiceError(f"{what} (pid {pid}) could not be stopped")
