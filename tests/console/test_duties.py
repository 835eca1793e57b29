"""Scheduled duties (#23): a duty runs at its time — the clock is injected (``--once-at``) — and
exactly once across two real ``rsarchive scheduler`` processes sharing the test's PostgreSQL; a
command this installation does not have is reported "not available"; ``scheduler status``
gives each duty's last and next run; a failed duty is mailed to the operators."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rsarchive.db import connect
from rsarchive.duties import Scheduler, load_schedule, status
from rsarchive.errors import ConfigError
from rsarchive.settings import Settings
from rsarchive.storage import Archive
from rsarchive.storage.keys import level0_key
from rsarchive.testing.processes import settings_env

pytestmark = pytest.mark.services

VN = timezone(timedelta(hours=7))
SCHEDULE = """
timezone = "Asia/Ho_Chi_Minh"

[duties.audit-night]
title_vi = "Kiểm tra toàn vẹn một mẫu"
title_en = "Fixity audit of a sample"
cron = "0 2 * * *"
command = ["audit", "--sample", "10"]
grace_minutes = 60

[duties.backup]
title_vi = "Sao lưu cơ sở dữ liệu"
title_en = "Database backups"
cron = "0 2 * * *"
command = ["no-such-command-yet"]

[duties.export-morning]
title_vi = "Xuất danh mục tĩnh"
title_en = "Static export"
cron = "0 5 * * *"
command = ["audit", "--all"]
"""


@pytest.fixture
def settings(fresh_settings: Settings, tmp_path: Path) -> Settings:
    root = tmp_path / "archive"
    root.mkdir()
    return fresh_settings.derive(archive_root=root)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "duties.toml").write_text(SCHEDULE, encoding="utf-8")
    return folder


def _schedulers(settings: Settings, site: Path, at: str, count: int = 2) -> list[list[dict]]:
    """Start ``count`` schedulers at once with the clock at ``at``; their runs."""
    env = settings_env(settings, site_dir=site)
    procs = [subprocess.Popen([sys.executable, "-m", "rsarchive", "scheduler", "--once-at", at, "--json"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(count)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def _outcomes(results: list[list[dict]], duty: str) -> list[str]:
    return sorted(run["outcome"] for runs in results for run in runs if run["duty"] == duty)


def _audit_runs(settings: Settings) -> int:
    with connect(settings.internal_database_dsn) as conn:
        return conn.execute("SELECT count(DISTINCT audit_run) FROM rsarchive.fixity_events WHERE action = 'check'").fetchone()[0]


def test_a_due_duty_runs_once_across_two_schedulers(settings: Settings, site: Path, tmp_path: Path) -> None:
    source = tmp_path / "pass.bin"
    source.write_bytes(b"level-0 frames " * 1000)
    Archive.from_settings(settings).store(level0_key("VNREDSAT1", date(2026, 12, 1), "P0001", "pass.bin"), source)

    # Before its time nothing runs.
    early = _schedulers(settings, site, "2026-12-09T01:59:00+07:00", count=1)
    assert early == [[]] and _audit_runs(settings) == 0

    # At 02:00:30 (Hà Nội) two schedulers started together: the audit runs once, in one of them.
    results = _schedulers(settings, site, "2026-12-09T02:00:30+07:00")
    assert _outcomes(results, "audit-night") == ["skipped", "succeeded"]
    assert _outcomes(results, "backup") == ["skipped", "unavailable"]
    assert _outcomes(results, "export-morning") == []  # due at 05:00, not now
    assert _audit_runs(settings) == 1
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute("SELECT duty, scheduled_at, outcome, error, ended_at >= started_at "
                            "FROM rsarchive.duty_runs ORDER BY duty").fetchall()
    scheduled = datetime(2026, 12, 9, 2, 0, tzinfo=VN)
    assert [(d, s, o, ok) for d, s, o, _, ok in rows] == [("audit-night", scheduled, "succeeded", True),
                                                          ("backup", scheduled, "unavailable", True)]
    assert "rsarchive no-such-command-yet" in rows[1][3] and "not available" in rows[1][3]

    # Later within the grace period (a scheduler restarted): already done, not run again.
    again = _schedulers(settings, site, "2026-12-09T02:40:00+07:00", count=1)
    assert _outcomes(again, "audit-night") == ["skipped"] and _audit_runs(settings) == 1
    # The next night it runs again.
    _schedulers(settings, site, "2026-12-10T02:00:05+07:00", count=1)
    assert _audit_runs(settings) == 2

    # Status: last and next run of each duty, and which are not available.
    found = {s.duty.name: s for s in status(settings, load_schedule(site / "duties.toml"),
                                                 now=datetime(2026, 12, 10, 3, 0, tzinfo=VN))}
    night = found["audit-night"]
    assert night.last is not None and night.last.outcome == "succeeded"
    assert night.last.scheduled_at == datetime(2026, 12, 10, 2, 0, tzinfo=VN)
    assert night.next_at == datetime(2026, 12, 11, 2, 0, tzinfo=VN) and night.available
    assert not found["backup"].available and found["backup"].last.outcome == "unavailable"
    assert found["export-morning"].last is None and found["export-morning"].next_at == datetime(2026, 12, 10, 5, 0,
                                                                                                 tzinfo=VN)
    listed = subprocess.run([sys.executable, "-m", "rsarchive", "scheduler", "status", "--json"],
                            env=settings_env(settings, site_dir=site), capture_output=True, text=True, check=True)
    assert [(d["name"], d["available"]) for d in json.loads(listed.stdout)] == [
        ("audit-night", True), ("backup", False), ("export-morning", True)]


def test_the_injected_clock_makes_a_duty_due_and_a_failure_is_mailed(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "duties.toml"
    path.write_text(SCHEDULE.replace('["audit", "--sample", "10"]', '["audit", "--sample", "0"]'), encoding="utf-8")
    now = [datetime(2026, 12, 9, 1, 0, tzinfo=VN)]
    scheduler = Scheduler(settings.derive(operators_email="ops@vnsc.gov.vn"), load_schedule(path),
                          clock=lambda: now[0], runner="test")
    assert scheduler.run_due() == []
    now[0] = datetime(2026, 12, 9, 2, 0, 1, tzinfo=VN)
    runs = {run.duty: run for run in scheduler.run_due()}
    assert runs["audit-night"].outcome == "failed" and "exited with 2" in (runs["audit-night"].error or "")
    assert scheduler.run_due() == []  # the same time is not tried twice by one scheduler
    with connect(settings.internal_database_dsn) as conn:
        [(recipients, subject, body)] = conn.execute(
            "SELECT recipients, subject, body FROM rsarchive.mail_outbox WHERE kind = 'duty_failed'").fetchall()
    assert recipients == ["operators"]
    assert subject == ('[rsarchive] Nhiệm vụ định kỳ "Kiểm tra toàn vẹn một mẫu" thất bại / '
                       'Scheduled duty "Fixity audit of a sample" failed')
    assert "theo lịch lúc 08/12/2026 19:00 UTC" in body and "due at 2026-12-08 19:00 UTC" in body


def test_a_bad_schedule_is_named(tmp_path: Path) -> None:
    path = tmp_path / "duties.toml"
    path.write_text('[duties.x]\ntitle_vi = "x"\ntitle_en = "x"\ncron = "61 * * * *"\naction = "reminders"\n')
    with pytest.raises(ConfigError, match=r"\[duties.x\]: cron '61 \* \* \* \*' is not valid"):
        load_schedule(path)
    path.write_text('[duties.x]\ntitle_vi = "x"\ntitle_en = "x"\ncron = "0 1 * * *"\n')
    with pytest.raises(ConfigError, match="either command"):
        load_schedule(path)
    shipped = load_schedule()
    assert {d.name for d in shipped.duties} == {"audit-sample", "audit-all", "static-export", "backup",
                                                 "request-reminders", "yearly-report", "harvest"}


def test_damage_found_by_an_audit_is_queued_for_the_operators(settings: Settings, tmp_path: Path) -> None:
    import os

    from rsarchive.storage import audit

    source = tmp_path / "pass.bin"
    source.write_bytes(b"level-0 frames " * 1000)
    archive = Archive.from_settings(settings)
    key = level0_key("VNREDSAT1", date(2026, 12, 1), "P0002", "pass.bin")
    archive.store(key, source)
    assert audit(archive).clean
    path = archive.primary.path(key)  # bit rot in the primary replica
    os.chmod(path, 0o644)
    path.write_bytes(b"level-0 frameZ " * 1000)
    report = audit(archive, repair=True)
    assert [o.status for o in report.objects] == ["repaired"]
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute("SELECT kind, recipients, subject, body FROM rsarchive.mail_outbox").fetchall()
    assert [(k, r) for k, r, _, _ in rows] == [("audit_damage", ["operators"])]
    subject, body = rows[0][2], rows[0][3]
    assert subject == f"[rsarchive] Kiểm tra toàn vẹn {report.run}: phát hiện hư hỏng / Fixity audit {report.run}: damage found"
    assert f"- {key}: đã khôi phục / repaired" in body and "1 repaired" in body


def test_once_at_must_be_a_time() -> None:
    done = subprocess.run([sys.executable, "-m", "rsarchive", "scheduler", "--once-at", "tomorrow night"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == ("rsarchive: error: --once-at 'tomorrow night' is not an ISO date and time "
                                   "(e.g. 2026-12-09T01:30:00+07:00)")
