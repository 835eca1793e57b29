"""A delivery as received (files, a product directory, a SAFE folder, a ``.tar``/``.tar.gz``/
``.zip`` archive) → its files and the product its own metadata describes.

:func:`open_delivery` lists what is to be kept byte-exact (each file given, each file of a
directory, an archive as the one file it is) and what is to be read (archives unpacked in
a temporary folder, checked whole: a truncated or corrupt archive is an error).
:func:`recognise` finds the product's metadata file among the readable files and hands
it to the reader of its format (:data:`~rsarchive.foreign.model.FORMATS`).
"""

from __future__ import annotations

import gzip
import logging
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rsarchive.errors import UsageError
from rsarchive.foreign.dimap import is_dimap_v2, read_dimap
from rsarchive.foreign.landsat import is_landsat, read_landsat
from rsarchive.foreign.model import FORMATS, DeliveredFile, ForeignProduct
from rsarchive.foreign.sentinel2 import PRODUCT_METADATA, is_safe, read_sentinel2

log = logging.getLogger(__name__)

__all__ = ["ARCHIVE_SUFFIXES", "Delivered", "formats_text", "open_delivery", "recognise", "unrecognised_message"]

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")

Reader = Callable[[Path, Sequence[DeliveredFile]], ForeignProduct]
_READERS: tuple[tuple[str, Callable[[Path], bool], Reader], ...] = (
    ("landsat-c2", is_landsat, read_landsat),
    ("sentinel-2-safe", is_safe, read_sentinel2),
    ("dimap-v2", is_dimap_v2, read_dimap),
)


def formats_text() -> str:
    """The recognised formats, for error messages."""
    return "; ".join(f"{name}: {how}" for name, how in FORMATS.items())


@dataclass(frozen=True)
class Delivered:
    """The files of a delivery: ``stored`` as received, ``readable`` with archives unpacked."""

    stored: list[DeliveredFile]
    readable: list[DeliveredFile]

    @property
    def size(self) -> int:
        return sum(f.path.stat().st_size for f in self.stored)


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _unpack(archive: Path, into: Path) -> list[DeliveredFile]:
    """Every regular file of ``archive``, unpacked (and read whole) under ``into``."""
    target = into / archive.name
    target.mkdir()
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                broken = zipped.testzip()
                if broken is not None:
                    raise UsageError(f"archive {archive.name} is corrupt: member {broken} fails its CRC check")
                for member in zipped.infolist():
                    if member.filename.startswith("/") or ".." in Path(member.filename).parts:
                        raise UsageError(f"archive {archive.name} holds a path outside itself: {member.filename}")
                zipped.extractall(target)
        else:
            with tarfile.open(archive) as tarred:
                tarred.extractall(target, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise UsageError(f"archive {archive.name} is truncated or corrupt ({type(exc).__name__}: {exc}); "
                         "nothing was stored") from None
    return [DeliveredFile(p, f"{archive.name}/{p.relative_to(target).as_posix()}")
            for p in sorted(target.rglob("*")) if p.is_file()]


def _directory(folder: Path) -> list[DeliveredFile]:
    return [DeliveredFile(p, p.relative_to(folder.parent).as_posix())
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]


@contextmanager
def open_delivery(paths: Sequence[str | Path]) -> Iterator[Delivered]:
    """The files of the delivery ``paths``; unpacked archives live until the block ends."""
    given = [Path(p) for p in paths]
    if not given:
        raise UsageError("give at least one file, product directory or archive to register")
    for path in given:
        if not path.exists():
            raise UsageError(f"cannot register {path}: no such file or directory")
    with tempfile.TemporaryDirectory(prefix="rsarchive-delivery-") as tmp:
        stored: list[DeliveredFile] = []
        readable: list[DeliveredFile] = []
        for path in given:
            if path.is_dir():
                files = _directory(path)
                if not files:
                    raise UsageError(f"cannot register {path}: the directory holds no files")
                stored += files
                readable += files
            elif _is_archive(path):
                stored.append(DeliveredFile(path, path.name))
                readable += _unpack(path, Path(tmp))
            else:
                stored.append(DeliveredFile(path, path.name))
                readable.append(DeliveredFile(path, path.name))
        names = [f.name for f in stored]
        if len(set(names)) != len(names):
            raise UsageError("two files of one delivery have the same name: "
                             + ", ".join(sorted({n for n in names if names.count(n) > 1})))
        yield Delivered(stored, readable)


def _hint(files: Sequence[DeliveredFile]) -> str:
    """What the files look like when no metadata file was found (for the error message)."""
    names = [f.path.name for f in files]
    if any(n.upper().startswith(("LC0", "LE0", "LT0", "LM0", "LO0")) for n in names):
        return "; the files look like a Landsat product but its *_MTL.xml is missing"
    if "manifest.safe" in names:
        return f"; manifest.safe is there but {' / '.join(PRODUCT_METADATA)} is missing"
    if any(n.upper().startswith("IMG_") for n in names):
        return "; the files look like a DIMAP product but its DIM_*.XML is missing"
    return ""


def recognise(files: Sequence[DeliveredFile]) -> ForeignProduct | None:
    """The product the delivery's own metadata describes, or None when no format is recognised.

    A metadata file that is recognised but broken raises :class:`UsageError`; so do two
    products in one delivery."""
    found = [(name, file.path, read) for file in files for name, test, read in _READERS if test(file.path)]
    if not found:
        return None
    if len(found) > 1:
        raise UsageError("one product per registration: the delivery holds the metadata of "
                         + ", ".join(f"{p.name} ({name})" for name, p, _ in found))
    name, path, read = found[0]
    log.info("recognised %s by %s", name, path.name)
    return read(path, files)


def unrecognised_message(files: Sequence[DeliveredFile]) -> str:
    """The error when no format is recognised and no metadata was given."""
    return ("no product metadata recognised in the delivery" + _hint(files)
            + f". Recognised formats: {formats_text()}. For another format give --metadata JSON.")
