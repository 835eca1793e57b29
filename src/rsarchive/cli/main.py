"""Entry point: the ``rsarchive`` group, lazy discovery of command modules,
and translation of library errors into one line and an exit code."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from typing import Any

import click

import rsarchive
from rsarchive import logs
from rsarchive.errors import RsArchiveError
from rsarchive.runtime import configure_process

log = logging.getLogger(__name__)

_NOT_COMMANDS = {"main", "options"}


def _command_modules() -> dict[str, str]:
    """Command name → module name, for every module in ``rsarchive.cli``."""
    import rsarchive.cli as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.name in _NOT_COMMANDS:
            continue
        found[info.name.replace("_", "-")] = f"rsarchive.cli.{info.name}"
    return found


class LazyGroup(click.Group):
    """A group whose sub-commands are imported only when listed or run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_command_modules()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        builtin = super().get_command(ctx, cmd_name)
        if builtin is not None:
            return builtin
        module_name = _command_modules().get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(module_name)
        command = getattr(module, "command", None)
        if not isinstance(command, click.Command):
            raise RuntimeError(f"{module_name} defines no click command named 'command'")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rsarchive.__version__, "--version", prog_name="rsarchive")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """rsarchive: the national remote-sensing archive (Decision 81/2010/QĐ-TTg)."""
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = verbose - quiet
    logs.configure(verbose - quiet)
    configure_process()


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; a library error becomes ``rsarchive: error: …`` and its exit code."""
    try:
        result = cli.main(args=argv, prog_name="rsarchive", standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)
        return None
    except click.exceptions.Abort:
        click.echo("rsarchive: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except RsArchiveError as exc:
        log.debug("error detail", exc_info=True)
        click.echo(f"rsarchive: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if type(exc).__module__.startswith("psycopg"):
            # A database problem is the operator's to fix, not a bug: one line, no traceback.
            log.debug("database error detail", exc_info=True)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            hint = " (the schema is not migrated: run `rsarchive services up`)" if type(exc).__name__ in (
                "UndefinedTable", "UndefinedColumn", "UndefinedFunction", "InvalidSchemaName") else ""
            click.echo(f"rsarchive: error: database: {first}{hint}", err=True)
            sys.exit(5)
        raise
    except KeyboardInterrupt:
        click.echo("rsarchive: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
