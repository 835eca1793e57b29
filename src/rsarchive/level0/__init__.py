"""Level 0: the downlink as received — decoding (frames → packets → lines, ancillary,
quality record) and the byte-level writer.  See ``shared/specs/level0-downlink.md``."""

from rsarchive.level0.decoder import BandLines, Level0Data, Level0Decoder, decode
from rsarchive.level0.lines import FILL_VALUE, FLAG_MISSING, FLAG_OK, FLAG_UNREADABLE, LineBlock
from rsarchive.level0.profiles import MissionProfile, available_profiles, load_profile
from rsarchive.level0.quality import QualityRecord
from rsarchive.level0.writer import DownlinkWriter, Impairments, WriteReport

__all__ = [
    "FILL_VALUE",
    "FLAG_MISSING",
    "FLAG_OK",
    "FLAG_UNREADABLE",
    "BandLines",
    "DownlinkWriter",
    "Impairments",
    "Level0Data",
    "Level0Decoder",
    "LineBlock",
    "MissionProfile",
    "QualityRecord",
    "WriteReport",
    "available_profiles",
    "decode",
    "load_profile",
]
