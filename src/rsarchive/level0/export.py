"""Writing decoded level-0 to files: recovered packets, and per-band GeoTIFFs with
line tables, ancillary data and the quality record.  Memory stays bounded: line
blocks go to a raw scratch file per band while decoding, then into the TIFF strip
by strip (the height is only known at the end of the stream).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.errors import StorageError
from rsarchive.level0.decoder import Level0Decoder, Source
from rsarchive.level0.lines import FILL_VALUE, FLAG_MISSING, FLAG_OK, FLAG_UNREADABLE
from rsarchive.level0.profiles import MissionProfile
from rsarchive.level0.quality import QualityRecord

log = logging.getLogger(__name__)

__all__ = ["export_decoded", "export_packets"]

FILL_NOTE = (f"fill value {FILL_VALUE}: lines flagged {FLAG_MISSING} (missing) or {FLAG_UNREADABLE} (unreadable) "
             f"in lines.json hold no data; DN 0 on a line flagged {FLAG_OK} is a real value")


def export_packets(source: Source, profile: MissionProfile | str, out: Path, *, input_kind: str = "cadu",
                   **kwargs: Any) -> QualityRecord:
    """Write the recovered packets (headers included, duplicates removed, in order) to ``out``."""
    dec = Level0Decoder(profile, input_kind=input_kind, **kwargs)
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            for _ in dec.iter_blocks(source, fh.write):
                pass
        os.replace(tmp, out)
    except OSError as exc:
        raise StorageError(f"cannot write packets to {out}: {exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return dec.quality


def export_decoded(source: Source, profile: MissionProfile | str, out_dir: Path, *, input_kind: str = "cadu",
                   strip_lines: int = 256, **kwargs: Any) -> QualityRecord:
    """Decode to ``out_dir``: ``<band>.tif``, ``lines.json``, ``ancillary.json``, ``quality.json``."""
    import rasterio

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create output directory {out_dir}: {exc}") from None
    dec = Level0Decoder(profile, input_kind=input_kind, **kwargs)
    scratch: dict[str, Any] = {}
    widths: dict[str, int] = {}
    tables: dict[str, dict[str, list[np.ndarray]]] = {}
    try:
        for block in dec.iter_blocks(source):
            name = block.band
            if name not in scratch:
                scratch[name] = open(out_dir / f".{name}.raw", "wb")  # noqa: SIM115
                widths[name] = block.dns.shape[1]
                tables[name] = {"first": [block.first_line], "times": [], "flags": []}
            scratch[name].write(np.ascontiguousarray(block.dns, dtype="<u2").tobytes())
            tables[name]["times"].append(block.times)
            tables[name]["flags"].append(block.flags)
        for fh in scratch.values():
            fh.close()
        lines_doc: dict[str, Any] = {"fill_value": FILL_VALUE,
                                     "flags": {str(FLAG_OK): "decoded", str(FLAG_MISSING): "missing (fill)",
                                               str(FLAG_UNREADABLE): "unreadable (fill)"},
                                     "bands": {}}
        for name, width in widths.items():
            flags = np.concatenate(tables[name]["flags"])
            times = np.concatenate(tables[name]["times"])
            first = int(tables[name]["first"][0])
            height = len(flags)
            raw = out_dir / f".{name}.raw"
            profile_kw = dict(driver="GTiff", width=width, height=height, count=1, dtype="uint16",
                              compress="deflate", predictor=2, blockysize=min(strip_lines, height))
            with rasterio.open(out_dir / f"{name}.tif", "w", **profile_kw) as dst:
                dst.update_tags(BAND=name, FIRST_LINE=str(first), FILL_VALUE=str(FILL_VALUE), FILL_NOTE=FILL_NOTE,
                                LEVEL="level0", MISSION=dec.profile.name)
                dst.set_band_description(1, name)
                for r0 in range(0, height, strip_lines):
                    n = min(strip_lines, height - r0)
                    rows = np.fromfile(raw, dtype="<u2", count=n * width, offset=r0 * width * 2)
                    dst.write(rows.reshape(n, width), 1, window=((r0, r0 + n), (0, width)))
            raw.unlink()
            iso = np.datetime_as_string(times, unit="us")
            lines_doc["bands"][name] = {
                "first_line": first,
                "lines": [[first + i, None if t == "NaT" else t + "Z", int(f)]
                          for i, (t, f) in enumerate(zip(iso.tolist(), flags.tolist()))],
            }
        _dump(out_dir / "lines.json", lines_doc)
        _dump(out_dir / "ancillary.json", dec.ancillary.to_dict())
        _dump(out_dir / "quality.json", dec.quality.to_dict())
    except OSError as exc:
        raise StorageError(f"cannot write decoded level-0 to {out_dir}: {exc}") from None
    finally:
        for name, fh in scratch.items():
            fh.close()
            (out_dir / f".{name}.raw").unlink(missing_ok=True)
    return dec.quality


def _dump(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
