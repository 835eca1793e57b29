"""Fingerprint of the raw and product files of one reference scene, for refactorings.

Usage::

    python scripts/reference_outputs.py DOWNLINK OUT_DIR > manifest.json

Runs ``rsarchive process raw`` and ``rsarchive process product`` (with the truth DEM and
the truth reflectance as reference, so refinement and accuracy run too) through the
command line of whichever ``rsarchive`` the interpreter imports, and prints a manifest:
the SHA-256 of every file written, and each ``metadata.json`` with the fields that hold
the time of processing or a path removed.  Two checkouts give equal manifests when
their outputs are byte-identical and their metadata equal except for timestamps::

    PYTHONPATH=/checkout-a/src python scripts/reference_outputs.py s.cadu /tmp/a > a.json
    PYTHONPATH=/checkout-b/src python scripts/reference_outputs.py s.cadu /tmp/b > b.json
    diff a.json b.json

The downlink comes from ``rsarchive simulate downlink … --dem`` (its ``.truth`` directory
must sit beside it).  This is a developer's check, not part of the test suite.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

VOLATILE = {"created_utc", "raw_dir"}
"""Fields that hold the time of processing or where the run wrote (the rest must be equal)."""


def _run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "rsarchive", "--quiet", *args], check=True, stdout=sys.stderr)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: Path(v).name if k == "source" and isinstance(v, str) else _strip(v)  # the CPF file: any checkout
                for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    downlink, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    truth = Path(f"{downlink}.truth")
    _run("process", "raw", str(downlink), "--cpf", "vnredsat1", "--out", str(out / "raw"), "--overwrite")
    manifest: dict[str, Any] = {}
    for scene in sorted((out / "raw").iterdir()):
        _run("process", "product", str(scene), "--out", str(out / "product"), "--dem", str(truth / "truth_dem.tif"),
             "--reference", str(truth / "truth.tif"), "--overwrite")
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = str(path.relative_to(out))
        if path.name == "metadata.json":
            manifest[name] = _strip(json.loads(path.read_text()))
        else:
            manifest[name] = _sha256(path)
    json.dump(manifest, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
