"""The schedule of the duties: ``duties.toml`` (site directory first), validated at load.

Each duty has a cron expression, turned into an APScheduler :class:`CronTrigger` in the
schedule's time zone; the trigger answers "when is it next due after t" for any t, so the
scheduler's clock can be injected (tests, ``--once-at``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from rsarchive.errors import ConfigError
from rsarchive.resources import site_or_shipped

ACTIONS = ("reminders",)
"""Built-in duties (the others run an ``rsarchive`` command)."""


@dataclass(frozen=True)
class Duty:
    name: str
    title_vi: str
    title_en: str
    cron: str
    timezone: ZoneInfo
    command: tuple[str, ...] = ()
    action: str | None = None
    grace: timedelta = timedelta(hours=1)
    timeout: timedelta | None = None

    @cached_property
    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=self.timezone)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first scheduled time strictly after ``moment``."""
        return self.trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))

    def due_at(self, now: datetime) -> datetime | None:
        """The latest scheduled time in (now − grace, now], if any: the run that is due at ``now``."""
        found = None
        moment = self.trigger.get_next_fire_time(None, now - self.grace + timedelta(microseconds=1))
        while moment is not None and moment <= now:
            found = moment
            moment = self.next_after(moment)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title_vi": self.title_vi, "title_en": self.title_en, "cron": self.cron,
                "timezone": str(self.timezone), "command": list(self.command), "action": self.action,
                "grace_minutes": self.grace.total_seconds() / 60}


@dataclass(frozen=True)
class Schedule:
    path: Path
    duties: list[Duty] = field(default_factory=list)

    def get(self, name: str) -> Duty:
        for duty in self.duties:
            if duty.name == name:
                return duty
        raise ConfigError(f"no duty named {name!r} in {self.path} (known: {', '.join(d.name for d in self.duties)})")


def _duty(name: str, data: dict[str, Any], zone: ZoneInfo, where: str) -> Duty:
    unknown = set(data) - {"title_vi", "title_en", "cron", "command", "action", "grace_minutes", "timeout_minutes"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("title_vi", "title_en", "cron"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ConfigError(f"{where}: {key} is required (a non-empty string)")
    command, action = data.get("command"), data.get("action")
    if (command is None) == (action is None):
        raise ConfigError(f"{where}: give either command (arguments of rsarchive) or action ({', '.join(ACTIONS)})")
    if command is not None and (not isinstance(command, list) or not command
                                or not all(isinstance(a, str) and a for a in command)):
        raise ConfigError(f"{where}: command must be a non-empty list of strings, e.g. [\"audit\", \"--sample\", \"500\"]")
    if action is not None and action not in ACTIONS:
        raise ConfigError(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
    try:
        grace = timedelta(minutes=float(data.get("grace_minutes", 60)))
        timeout = timedelta(minutes=float(data["timeout_minutes"])) if "timeout_minutes" in data else None
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: grace_minutes and timeout_minutes must be numbers") from None
    if grace <= timedelta(0):
        raise ConfigError(f"{where}: grace_minutes must be positive")
    duty = Duty(name, data["title_vi"].strip(), data["title_en"].strip(), data["cron"].strip(), zone,
                tuple(command or ()), action, grace, timeout)
    try:
        duty.trigger
    except ValueError as exc:
        raise ConfigError(f"{where}: cron {duty.cron!r} is not valid ({exc})") from None
    return duty


def load_schedule(path: Path | None = None) -> Schedule:
    """The schedule in ``path`` (default: ``duties.toml`` of the site directory, else the shipped one)."""
    path = path or site_or_shipped("duties.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"schedule {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"schedule {path} is not valid TOML: {exc}") from None
    try:
        zone = ZoneInfo(str(data.get("timezone", "Asia/Ho_Chi_Minh")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{path}: timezone {data.get('timezone')!r} is not an IANA time zone") from None
    duties = data.get("duties", {})
    if not isinstance(duties, dict):
        raise ConfigError(f"{path}: [duties.NAME] tables expected")
    return Schedule(path, [_duty(name, body, zone, f"{path} [duties.{name}]") for name, body in duties.items()])
