"""A small pass ingested for real, in S3 stores on the test stack's SeaweedFS (tests of the
public window, ``bench/tiles``)."""

from __future__ import annotations

from pathlib import Path

from rsarchive.db import connect
from rsarchive.settings import Settings

__all__ = ["ingest_small_pass", "s3_stores"]


def s3_stores(settings: Settings, **changes: object) -> Settings:
    """``settings`` with its primary and copy stores in its buckets on the stack's SeaweedFS."""
    from rsarchive.services.seaweed import credentials

    access, secret = credentials(settings)
    return settings.derive(store_url=f"s3://{settings.primary_bucket}", copy_store_url=f"s3://{settings.copy_bucket}",
                           s3_endpoint_url=settings.seaweed_endpoint, s3_access_key=access, s3_secret_key=secret,
                           **changes)


def ingest_small_pass(settings: Settings, workdir: Path, scenes: int = 1, pass_id: str = "p0001",
                      config: dict[str, object] | None = None) -> list[str]:
    """Ingest a small simulated downlink of ``scenes`` scenes with the shipped
    ``ingest-level0-small`` pipeline (unclassified: published) and return the ids of the
    catalog's products, oldest first.  ``config``: further simulation settings (another
    ``date`` makes another pass)."""
    from rsarchive.jobs import JobQueue, Worker
    from rsarchive.jobs.ingest import IngestRunner, ReceptionRecord, submit
    from rsarchive.testing.downlinks import small_downlink

    downlink = small_downlink(workdir, scenes=scenes, write_truth_dn=False, write_truth_radiance=False,
                              config=config).downlink
    submit(settings, downlink, ReceptionRecord(station="VNSC-HN", pass_id=pass_id, plan_ref=f"PLAN-{pass_id}"),
           "ingest-level0-small")
    job = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    if job is None or job.state != "succeeded":
        raise AssertionError(f"the ingest did not succeed: {job and job.error}")
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute("SELECT id FROM pgstac.items WHERE collection = 'vnredsat1-product' "
                            "ORDER BY datetime").fetchall()
    return [r[0] for r in rows]
