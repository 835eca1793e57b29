"""Ingest jobs: a PostgreSQL-backed queue, workers, pipelines."""

from rsarchive.jobs.queue import Job, JobQueue
from rsarchive.jobs.worker import JobContext, LeaseLost, Worker

__all__ = ["Job", "JobContext", "JobQueue", "LeaseLost", "Worker"]
