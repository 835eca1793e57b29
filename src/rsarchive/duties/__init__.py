"""Scheduled duties (issue #23): the recurring work of the archive — fixity audits, the static
export, database backups, request reminders, the yearly report — run by ``rsarchive
scheduler`` at the times of ``duties.toml``, each exactly once however many schedulers run.

* :func:`load_schedule` reads the schedule (site directory first);
* :class:`Scheduler` finds the duties due at a time given by its clock and runs them;
* :func:`status` is each duty's last and next run, for the CLI and the operations page.
"""

from rsarchive.duties.config import Duty, Schedule, load_schedule
from rsarchive.duties.scheduler import DutyRun, DutyStatus, Scheduler, status

__all__ = ["Duty", "DutyRun", "DutyStatus", "Schedule", "Scheduler", "load_schedule", "status"]
