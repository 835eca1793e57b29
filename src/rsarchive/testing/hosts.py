"""Several hosts on one machine: each a Linux network namespace with its own address on a private
bridge, optionally its own CPUs (a cgroup-v1 cpuset), so that the archive's components are separated
by a real network that a test can cut.

::

    with Hosts(["db", "s3", "w1", "w2"], cpus={"w1": "0", "w2": "1"}) as hosts:
        hosts.run("db", ["rsarchive", "services", "up", "--only", "postgres"], env=...).wait()
        hosts.address("db")       # "10.213.7.2"
        hosts.cut("w1")           # its link down: it reaches nothing and nothing reaches it
        hosts.heal("w1")

The machine's own processes (the test) reach every host through the bridge's address (``.1``).
Needs root and ``ip`` (iproute2); :func:`unavailable` says why it cannot run here.  Used by the
partition tests, ``bench/scale`` and ``scripts/hosts``.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rsarchive.errors import ServiceError

log = logging.getLogger(__name__)

CPUSET_ROOT = Path("/sys/fs/cgroup/cpuset")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ServiceError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def unavailable() -> str | None:
    """Why several hosts cannot be made on this machine (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    name = f"rsprobe{os.getpid() % 100000}"
    made = _ip("netns", "add", name, check=False)
    if made.returncode != 0:
        return f"this machine does not allow network namespaces ({made.stderr.strip()})"
    _ip("netns", "del", name, check=False)
    return None


@dataclass
class Host:
    """One host: its namespace, its address and the root side of its link."""

    name: str
    index: int
    netns: str
    link: str
    address: str
    cpus: str | None = None
    cgroup: Path | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


class Hosts:
    """A private network of hosts (a context manager: made on entry, removed on exit)."""

    def __init__(self, names: Sequence[str], *, cpus: Mapping[str, str] | None = None, subnet: int | None = None):
        if len(set(names)) != len(names) or not names:
            raise ValueError("host names must be distinct and at least one")
        tag = f"{os.getpid() % 10000:04d}{random.randrange(100):02d}"
        third = subnet if subnet is not None else random.randrange(1, 250)
        self.prefix = f"10.213.{third}"
        self.bridge = f"rsbr{tag}"
        self.hosts: dict[str, Host] = {}
        for i, name in enumerate(names):
            self.hosts[name] = Host(name=name, index=i, netns=f"rs{tag}-{name}", link=f"rsv{tag}{i}",
                                    address=f"{self.prefix}.{i + 2}", cpus=(cpus or {}).get(name))
        self._made: list[str] = []

    # -- the network --------------------------------------------------------------------------------
    @property
    def network(self) -> str:
        """The hosts' network in CIDR notation."""
        return f"{self.prefix}.0/24"

    @property
    def gateway(self) -> str:
        """The machine's own address on the network (the bridge)."""
        return f"{self.prefix}.1"

    def address(self, name: str) -> str:
        return self.hosts[name].address

    def __enter__(self) -> Hosts:
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            self._made.append("bridge")
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for host in self.hosts.values():
                self._make(host)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _make(self, host: Host) -> None:
        _ip("netns", "add", host.netns)
        self._made.append(f"netns:{host.name}")
        _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        _ip("link", "set", host.link, "master", self.bridge)
        _ip("link", "set", host.link, "up")
        for args in (("link", "set", "lo", "up"), ("addr", "add", f"{host.address}/24", "dev", "eth0"),
                     ("link", "set", "eth0", "up"), ("route", "add", "default", "via", self.gateway)):
            _ip("netns", "exec", host.netns, "ip", *args)
        if host.cpus is not None:
            host.cgroup = self._cpuset(host)

    def _cpuset(self, host: Host) -> Path | None:
        """A cpuset cgroup pinning the host's processes to its CPUs (None when the machine has none)."""
        if not (CPUSET_ROOT / "cpuset.cpus").exists():
            log.warning("no cgroup-v1 cpuset on this machine: host %s is not limited to CPUs %s", host.name, host.cpus)
            return None
        group = CPUSET_ROOT / f"rsarchive-{host.netns}"
        group.mkdir(exist_ok=True)
        (group / "cpuset.cpus").write_text(str(host.cpus))
        (group / "cpuset.mems").write_text((CPUSET_ROOT / "cpuset.mems").read_text().strip())
        return group

    def cut(self, name: str) -> None:
        """Take the host's link down: a partition (its processes keep running)."""
        _ip("link", "set", self.hosts[name].link, "down")
        log.info("host %s cut off", name)

    def heal(self, name: str) -> None:
        """Bring the host's link back up."""
        _ip("link", "set", self.hosts[name].link, "up")
        log.info("host %s reconnected", name)

    # -- processes ----------------------------------------------------------------------------------
    def run(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            output: IO[Any] | int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        """Start ``argv`` on host ``name`` (in its namespace and cpuset); stopped when the hosts go."""
        host = self.hosts[name]
        command = ["ip", "netns", "exec", host.netns, *argv]
        if host.cgroup is not None:  # the shell joins the cpuset, then becomes the command: its children stay in it
            command = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(host.cgroup / "tasks"), *command]
        process = subprocess.Popen(command, env=dict(env or os.environ), stdout=output,
                                   stderr=subprocess.STDOUT if output is not None else None,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        host.processes.append(process)
        return process

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Stop the processes started on ``name`` (their whole process groups)."""
        for process in self.hosts[name].processes:
            _signal_group(process, sig)
        for process in self.hosts[name].processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(10)
        self.hosts[name].processes.clear()

    def _pids_inside(self, host: Host) -> Iterable[int]:
        result = _ip("netns", "pids", host.netns, check=False)
        return [int(p) for p in result.stdout.split()] if result.returncode == 0 else []

    def __exit__(self, *exc: object) -> None:
        for host in self.hosts.values():
            for process in host.processes:
                _signal_group(process, signal.SIGKILL)
            for pid in self._pids_inside(host):  # servers that left their starter's process group
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for process in host.processes:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    log.warning("a process of host %s did not end", host.name)
            if f"netns:{host.name}" in self._made:
                _ip("link", "del", host.link, check=False)
                _ip("netns", "del", host.netns, check=False)
            if host.cgroup is not None:
                try:
                    host.cgroup.rmdir()
                except OSError as err:
                    log.warning("cgroup %s not removed: %s", host.cgroup, err)
        if "bridge" in self._made:
            _ip("link", "del", self.bridge, check=False)
        self._made.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


__all__ = ["Host", "Hosts", "unavailable"]
