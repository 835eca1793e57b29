"""The archive spread over several hosts (:mod:`rsarchive.testing.hosts`): a database host, an
object-store host and worker hosts, each running the ordinary ``rsarchive`` commands with the
settings an operator would give it (``RSARCHIVE_*`` variables), as the deployment guide describes.

Every host has its own archive root (work directories are not shared); the credentials file is the
one the database host's ``services up`` wrote (on real machines it is distributed with the
settings); downlinks are read from a path every worker host can read (a shared mount on real
machines).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rsarchive.errors import ServiceError
from rsarchive.settings import Settings, load_settings
from rsarchive.testing.hosts import Hosts

PG_PORT = 5439
S3_PORT = 8333


@dataclass
class Cluster:
    """Hosts ``db`` and ``s3`` running the services, and worker hosts started on demand."""

    hosts: Hosts
    root: Path
    logs: dict[str, Path] = field(default_factory=dict)

    def environment(self, host: str, **extra: str) -> dict[str, str]:
        """The ``RSARCHIVE_*`` settings of a process on ``host`` (nothing inherited from this process's)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RSARCHIVE_")}
        env.update({
            "RSARCHIVE_ARCHIVE_ROOT": str(self.root / host),
            "RSARCHIVE_SECRETS_FILE": str(self.root / "secrets.json"),
            "RSARCHIVE_PG_HOST": self.hosts.address("db"),
            "RSARCHIVE_PG_PORT": str(PG_PORT),
            "RSARCHIVE_PG_HBA_NETWORKS": f'["{self.hosts.network}"]',
            "RSARCHIVE_SEAWEED_HOST": self.hosts.address("s3"),
            "RSARCHIVE_SEAWEED_S3_PORT": str(S3_PORT),
            "RSARCHIVE_S3_ENDPOINT_URL": f"http://{self.hosts.address('s3')}:{S3_PORT}",
            "RSARCHIVE_STORE_URL": "s3://rsarchive-primary",
            "RSARCHIVE_COPY_STORE_URL": "s3://rsarchive-copy",
            "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        })
        env.update(extra)
        return env

    def settings(self) -> Settings:
        """Settings for this (the machine's own) process, reaching the hosts over the bridge."""
        env = self.environment("client")
        values = {k.removeprefix("RSARCHIVE_").lower(): v for k, v in env.items() if k.startswith("RSARCHIVE_")}
        values["pg_hba_networks"] = [self.hosts.network]
        values["pg_port"] = PG_PORT
        values["seaweed_s3_port"] = S3_PORT
        return load_settings().derive(**values)

    def rsarchive(self, host: str, *args: str, env: Mapping[str, str] | None = None,
                  log_name: str | None = None) -> subprocess.Popen[bytes]:
        """``rsarchive ARGS`` on ``host``; its output goes to ``<root>/logs/<log_name or host>.log``."""
        log = self.root / "logs" / f"{log_name or host}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.logs[log_name or host] = log
        handle = open(log, "ab")  # noqa: SIM115 — the child keeps it; closed with this process
        return self.hosts.run(host, [sys.executable, "-m", "rsarchive", *args],
                              env=dict(env or self.environment(host)), output=handle)

    def start_services(self, timeout: float = 240) -> None:
        for host, only in (("db", "postgres"), ("s3", "seaweedfs")):
            process = self.rsarchive(host, "services", "up", "--only", only, log_name=f"{host}-up")
            try:
                code = process.wait(timeout)
            except subprocess.TimeoutExpired:
                raise ServiceError(f"{only} did not start on host {host} within {timeout:.0f} s") from None
            if code != 0:
                tail = self.logs[f"{host}-up"].read_text(errors="replace")[-2000:]
                raise ServiceError(f"{only} did not start on host {host}: {tail}")

    def worker(self, host: str, *args: str) -> subprocess.Popen[bytes]:
        """``rsarchive worker ARGS`` on ``host``."""
        return self.rsarchive(host, "worker", *args, log_name=f"{host}-worker-{time.monotonic_ns()}")


def make_cluster(hosts: Hosts, root: Path) -> Cluster:
    """A cluster on ``hosts`` (which must include ``db`` and ``s3``) with its files under ``root``."""
    missing = {"db", "s3"} - set(hosts.hosts)
    if missing:
        raise ValueError(f"a cluster needs hosts {sorted(missing)}")
    for host in hosts.hosts:
        (root / host).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    return Cluster(hosts, root)


def main(argv: list[str] | None = None) -> int:
    """``scripts/hosts``: make the hosts, start the database and the object store on theirs, print how to
    reach them and run commands on each host, and keep them until Ctrl-C (then remove everything)."""
    import argparse
    import logging
    import shlex
    import shutil
    import signal

    from rsarchive.testing import hosts as hostlib
    from rsarchive.testing.stack import make_root

    parser = argparse.ArgumentParser(prog="scripts/hosts", description=main.__doc__)
    parser.add_argument("--workers", type=int, default=2, help="worker hosts (w1, w2, …)")
    parser.add_argument("--pin", action="store_true", help="pin worker host k to CPU k-1 (a cpuset each)")
    parser.add_argument("--start-workers", action="store_true", help="run `rsarchive worker` on each worker host")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    reason = hostlib.unavailable()
    if reason is not None:
        sys.stderr.write(f"scripts/hosts: several hosts cannot be made here: {reason}\n")
        return 2
    workers = [f"w{k}" for k in range(1, args.workers + 1)]
    cores = sorted(os.sched_getaffinity(0))
    cpus = {w: str(cores[i % len(cores)]) for i, w in enumerate(workers)} if args.pin else {}
    root = make_root("rsarchive-hosts-")
    stop = False

    def ask_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, ask_stop)
    try:
        with hostlib.Hosts(["db", "s3", *workers], cpus=cpus) as hosts:
            cluster = make_cluster(hosts, root)
            cluster.start_services()
            out = sys.stdout
            out.write(f"hosts on {hosts.network} (this machine: {hosts.gateway}); files under {root}\n")
            for name, host in hosts.hosts.items():
                pinned = f", CPUs {host.cpus}" if host.cpus else ""
                out.write(f"  {name:<4} {host.address:<15} netns {host.netns}{pinned}\n")
            env = " ".join(f"{k}={shlex.quote(v)}" for k, v in cluster.environment("w1").items()
                           if k.startswith(("RSARCHIVE_", "AWS_")))
            out.write(f"run on a host:  ip netns exec {hosts.hosts['w1'].netns} env {env} rsarchive …\n")
            out.write(f"cut / heal:     ip link set {hosts.hosts['w1'].link} down / up\n")
            if args.start_workers:
                for name in workers:
                    cluster.worker(name)
                out.write(f"workers running; logs in {root / 'logs'}\n")
            out.write("Ctrl-C removes everything.\n")
            out.flush()
            while not stop:
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


__all__ = ["Cluster", "main", "make_cluster"]


if __name__ == "__main__":
    raise SystemExit(main())
