"""What a duty does: an ``rsarchive`` command run as a child process, or a built-in action.

A command is run with this interpreter (``python -m rsarchive …``) and this process's
environment, so it sees the same settings.  Whether this installation has the command at all
is asked once (``rsarchive CMD --help``): a command added by a later release (``backup``,
``reports yearly``) is "not available" until then.  In its arguments ``{archive_root}`` is the
archive root and ``{year}`` the current year in Vietnam.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import datetime

from rsarchive.db import transaction
from rsarchive.duties.config import Duty
from rsarchive.errors import RsArchiveError
from rsarchive.law import calendar
from rsarchive.requests import lifecycle, notices
from rsarchive.settings import Settings
from rsarchive.users.identity import Principal

log = logging.getLogger(__name__)

_AVAILABLE: dict[tuple[str, ...], bool] = {}


class DutyFailed(RsArchiveError):
    """A duty ran and did not succeed."""


class DutyUnavailable(RsArchiveError):
    """A duty's command does not exist in this installation."""


def _words(command: tuple[str, ...]) -> tuple[str, ...]:
    """The command's name (its words before the first option)."""
    words = []
    for arg in command:
        if arg.startswith("-"):
            break
        words.append(arg)
    return tuple(words)


def available(command: tuple[str, ...]) -> bool:
    """True when ``rsarchive <command words> --help`` works here."""
    words = _words(command)
    if words not in _AVAILABLE:
        done = subprocess.run([sys.executable, "-m", "rsarchive", *words, "--help"], capture_output=True,
                              timeout=120, check=False)
        _AVAILABLE[words] = done.returncode == 0
    return _AVAILABLE[words]


def argv(duty: Duty, settings: Settings) -> list[str]:
    year = str(calendar.today_vn().year)
    return [arg.replace("{archive_root}", str(settings.archive_root)).replace("{year}", year) for arg in duty.command]


def run_command(duty: Duty, settings: Settings) -> str:
    """Run the duty's command; its last output line, or :class:`DutyFailed` with its error."""
    if not available(duty.command):
        raise DutyUnavailable(f"command 'rsarchive {' '.join(_words(duty.command))}' is not available here")
    args = argv(duty, settings)
    log.info("duty %s: rsarchive %s", duty.name, " ".join(args))
    timeout = duty.timeout.total_seconds() if duty.timeout else None
    try:
        done = subprocess.run([sys.executable, "-m", "rsarchive", "-q", *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DutyFailed(f"rsarchive {' '.join(args)} did not finish within {duty.timeout}") from None
    output = [ln for ln in (done.stdout + "\n" + done.stderr).splitlines() if ln.strip()]
    if done.returncode != 0:
        tail = "; ".join(output[-5:]) or "no output"
        raise DutyFailed(f"rsarchive {' '.join(args)} exited with {done.returncode}: {tail}"[:2000])
    return output[-1] if output else "done"


def reminders(settings: Settings, now: datetime) -> str:
    """Queue the reminders of requests due soon (to their requesters) and the operators' list."""
    scheduler = Principal(user_id=None, name="scheduler", role="admin", organisation_id=None, organisation=None)
    today = calendar.receipt_date(now)
    with transaction(settings) as conn:
        found = lifecycle.queue(conn, scheduler, today)
        queued = notices.remind(conn, found, today)
    return f"{len(found['overdue'])} overdue, {len(found['due_soon'])} due soon, {queued} reminder(s) queued"


def run(duty: Duty, settings: Settings, now: datetime) -> str:
    """Run ``duty``; a one-line summary, :class:`DutyFailed` or :class:`DutyUnavailable`."""
    if duty.action == "reminders":
        return reminders(settings, now)
    return run_command(duty, settings)
