"""Mission profiles: the per-mission geometry of a downlink, loaded from
``missions/<name>.yaml`` (site directory, else the package data) and validated.

A profile says how long a CADU and its transfer frame are, whether Reed–Solomon
check bytes follow the frame (and whether the randomiser covers them), whether a
FECF is present, which spacecraft ids and virtual channels to expect, and which
APIDs carry image lines and ancillary data.  Nothing mission-specific is in code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rsarchive.errors import ConfigError, UsageError
from rsarchive.resources import listing, searched, site_or_shipped

log = logging.getLogger(__name__)

__all__ = ["BandSpec", "MissionProfile", "available_profiles", "load_profile"]

_TIME_CODES = {"cuc": 6, "cds": 8, "none": 0}


@dataclass(frozen=True)
class BandSpec:
    """One image band: its id in the line header, name, APID and virtual channel."""

    id: int
    name: str
    apid: int
    vc: int
    common_name: str = ""


@dataclass(frozen=True)
class MissionProfile:
    """The frame geometry and channel/APID tables of one mission (immutable)."""

    name: str
    cadu_length: int
    asm: bytes
    frame_length: int
    rs_check_bytes: int
    randomised: bool
    randomise_rs: bool
    fecf: bool
    insert_zone: int
    spacecraft_ids: tuple[int, ...]
    virtual_channels: dict[str, int]
    idle_vc: int
    time_code: str
    secondary_header_length: int
    time_scale: str
    idle_apid: int
    image_format: str
    bands: tuple[BandSpec, ...]
    ancillary_apids: dict[str, int]
    ancillary_vc: int | None
    apid_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    description: str = ""
    source: str = ""

    # Derived geometry -------------------------------------------------------------
    @property
    def data_zone_start(self) -> int:
        """Offset of the packet zone within the transfer frame (primary + insert + M_PDU)."""
        return 6 + self.insert_zone + 2

    @property
    def packet_zone_length(self) -> int:
        """Octets of the packet zone of one frame."""
        return self.frame_length - self.data_zone_start - (2 if self.fecf else 0)

    @property
    def randomised_length(self) -> int:
        """Octets after the ASM that the randomiser covers."""
        return self.frame_length + (self.rs_check_bytes if self.randomise_rs else 0)

    def band(self, band_id: int) -> BandSpec:
        """The band with this id (UsageError if the profile has none)."""
        for spec in self.bands:
            if spec.id == band_id:
                return spec
        raise UsageError(f"mission {self.name!r} has no band id {band_id}; bands: "
                         f"{', '.join(f'{b.id}={b.name}' for b in self.bands) or 'none'}")

    def band_by_apid(self) -> dict[int, BandSpec]:
        return {b.apid: b for b in self.bands}

    def vc_for(self, role: str) -> int:
        """The virtual channel id of a role (``image_ms``, ``image_pan``, ``ancillary`` …)."""
        try:
            return self.virtual_channels[role]
        except KeyError:
            raise UsageError(f"mission {self.name!r} defines no virtual channel {role!r}; "
                             f"defined: {', '.join(sorted(self.virtual_channels))}") from None


def available_profiles(config_dir: Path | None = None) -> list[str]:
    """Names of the profiles in ``missions/`` of ``config_dir`` (else the site directory) and the package."""
    return [Path(name).stem for name in listing("missions", "*.yaml", config_dir)]


def load_profile(name_or_path: str | Path, config_dir: Path | None = None) -> MissionProfile:
    """Load and validate a mission profile by name (``vnredsat1``) or by path to a YAML file.

    Raises :class:`UsageError` for an unknown name (listing the known ones) and
    :class:`ConfigError` for a file that is not a valid profile.
    """
    if isinstance(name_or_path, MissionProfile):  # convenience for callers passing one through
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or path.is_file()):
        path = site_or_shipped(f"missions/{text}.yaml", config_dir)
        if not path.is_file():
            known = available_profiles(config_dir)
            raise UsageError(f"unknown mission profile {text!r}; available: {', '.join(known) or 'none'} "
                             f"(in {searched('missions', config_dir)})")
    elif not path.is_file():
        raise UsageError(f"mission profile file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read mission profile {path}: {exc}") from None
    return _validate(raw, path)


def _need(raw: dict[str, Any], key: str, where: Path) -> Any:
    if key not in raw:
        raise ConfigError(f"mission profile {where}: missing key {key!r}")
    return raw[key]


def _validate(raw: Any, where: Path) -> MissionProfile:
    if not isinstance(raw, dict):
        raise ConfigError(f"mission profile {where}: expected a mapping at top level")
    try:
        cadu = _need(raw, "cadu", where)
        frame = _need(raw, "frame", where)
        packets = _need(raw, "packets", where)
        vcs_raw = dict(_need(raw, "virtual_channels", where))
        asm = bytes.fromhex(str(cadu.get("asm", "1ACFFC1D")))
        cadu_length = int(_need(cadu, "length", where))
        frame_length = int(_need(frame, "length", where))
        rs = int(frame.get("rs_check_bytes", 0))
        insert_zone = int(frame.get("insert_zone", 0))
        fecf = bool(frame.get("fecf", False))
        time_code = str(packets.get("secondary_header", "cuc")).lower()
        sec_len = int(packets.get("secondary_header_length", _TIME_CODES.get(time_code, 0)))
        vcs = {str(k): int(v) for k, v in vcs_raw.items()}
        idle_vc = vcs.pop("idle", 63)
        bands = []
        for b in raw.get("bands") or []:
            vc = b.get("vc")
            vc_id = vcs[vc] if isinstance(vc, str) else int(vc)
            bands.append(BandSpec(int(b["id"]), str(b["name"]), int(b["apid"]), vc_id, str(b.get("common_name", ""))))
        anc_apids: dict[str, int] = {}
        anc_vcs = set()
        for kind, spec in (raw.get("ancillary") or {}).items():
            anc_apids[str(kind)] = int(spec["apid"])
            vc = spec.get("vc", "ancillary")
            anc_vcs.add(vcs[vc] if isinstance(vc, str) else int(vc))
        ranges = {str(k): (int(v[0]), int(v[1])) for k, v in (raw.get("apids") or {}).items()}
        profile = MissionProfile(
            name=str(_need(raw, "name", where)),
            cadu_length=cadu_length,
            asm=asm,
            frame_length=frame_length,
            rs_check_bytes=rs,
            randomised=bool(frame.get("randomised", True)),
            randomise_rs=bool(frame.get("randomise_rs", False)),
            fecf=fecf,
            insert_zone=insert_zone,
            spacecraft_ids=tuple(int(s) for s in _need(raw, "spacecraft_ids", where)),
            virtual_channels=vcs,
            idle_vc=int(idle_vc),
            time_code=time_code,
            secondary_header_length=sec_len,
            time_scale=str(packets.get("time_scale", "tai")).lower(),
            idle_apid=int(packets.get("idle_apid", 0x7FF)),
            image_format=str(packets.get("image_format", "line")),
            bands=tuple(bands),
            ancillary_apids=anc_apids,
            ancillary_vc=next(iter(anc_vcs)) if len(anc_vcs) == 1 else None,
            apid_ranges=ranges,
            description=str(raw.get("description", "")),
            source=str(where),
        )
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"mission profile {where}: invalid or missing entry ({exc!r})") from None
    problems = []
    if len(profile.asm) != 4:
        problems.append(f"asm must be 4 octets, got {len(profile.asm)}")
    if profile.cadu_length != len(profile.asm) + profile.frame_length + profile.rs_check_bytes:
        problems.append(f"cadu length {profile.cadu_length} != asm {len(profile.asm)} + frame "
                        f"{profile.frame_length} + RS {profile.rs_check_bytes}")
    if profile.packet_zone_length < 8:
        problems.append(f"packet zone of {profile.packet_zone_length} octets is too short")
    if profile.packet_zone_length > 0x7FD:
        problems.append("packet zone longer than a first header pointer can address")
    if profile.time_code not in _TIME_CODES:
        problems.append(f"secondary_header {profile.time_code!r} not one of {sorted(_TIME_CODES)}")
    if not profile.spacecraft_ids:
        problems.append("spacecraft_ids is empty")
    if len({b.id for b in profile.bands}) != len(profile.bands):
        problems.append("band ids are not unique")
    for vc in [*profile.virtual_channels.values(), profile.idle_vc]:
        if not 0 <= vc <= 63:
            problems.append(f"virtual channel {vc} outside 0..63")
    if problems:
        raise ConfigError(f"mission profile {where}: " + "; ".join(problems))
    log.debug("loaded mission profile %s from %s", profile.name, where)
    return profile
