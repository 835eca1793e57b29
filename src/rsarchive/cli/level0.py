"""``rsarchive level0``: inspect, extract packets from, and decode level-0 downlinks."""

from __future__ import annotations

from pathlib import Path

import click

command = click.Group("level0", help="Level-0 downlinks: quality record, packets, decoded bands.")

_FILE = click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
_INPUT = click.option("--input", "input_kind", type=click.Choice(["cadu", "packets"]), default="cadu",
                      show_default=True, help="cadu: CADU stream (spec); packets: plain space-packet file.")


def _profile_option(required: bool) -> click.Option:
    return click.option("--profile", "profile_name", default=None if required else "vnredsat1",
                        required=required, show_default=not required,
                        help="Mission profile name (missions/<name>.yaml) or path.")


def _config_dir() -> Path | None:
    from rsarchive.cli.options import get_settings

    return get_settings().site_dir


def _profile(name: str):
    from rsarchive.level0.profiles import load_profile

    return load_profile(name, _config_dir())


@command.command("inspect")
@_FILE
@_profile_option(required=False)
@_INPUT
@click.option("--json", "as_json", is_flag=True, help="Print the quality record as JSON.")
def inspect_cmd(file: Path, profile_name: str, input_kind: str, as_json: bool) -> None:
    """Print the level-0 quality record of FILE."""
    from rsarchive.level0.decoder import Level0Decoder

    dec = Level0Decoder(_profile(profile_name), input_kind=input_kind, config_dir=_config_dir())
    for _ in dec.iter_blocks(file):
        pass
    click.echo(dec.quality.to_json() if as_json else dec.quality.to_text())


@command.command("packets")
@_FILE
@_profile_option(required=True)
@_INPUT
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="File for the recovered packets.")
def packets_cmd(file: Path, profile_name: str, input_kind: str, out: Path) -> None:
    """Write the recovered space packets of FILE (in order, duplicates removed) to --out."""
    from rsarchive.level0.export import export_packets

    q = export_packets(file, _profile(profile_name), out, input_kind=input_kind, config_dir=_config_dir())
    click.echo(f"{q.packets} packets ({q.packet_bytes} bytes) written to {out}", err=True)


@command.command("decode")
@_FILE
@_profile_option(required=True)
@_INPUT
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for <band>.tif, lines.json, ancillary.json, quality.json.")
def decode_cmd(file: Path, profile_name: str, input_kind: str, out: Path) -> None:
    """Decode FILE into per-band GeoTIFFs (uint16 DNs, lines × detectors) and JSON side files."""
    from rsarchive.level0.export import export_decoded

    q = export_decoded(file, _profile(profile_name), out, input_kind=input_kind, config_dir=_config_dir())
    click.echo(f"decoded {len(q.bands)} band(s), {q.packets} packets into {out}", err=True)
