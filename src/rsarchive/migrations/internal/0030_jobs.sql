-- Ingest jobs: a PostgreSQL-backed queue (claimed with FOR UPDATE SKIP LOCKED, leased,
-- kept alive by heartbeats).  A job's identity (the downlink's sha256 for ingests)
-- is unique per kind, so the same file submitted twice is one job.
CREATE TABLE rsarchive.jobs (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL,
    identity      text NOT NULL,
    pipeline      text NOT NULL,
    input         jsonb NOT NULL DEFAULT '{}'::jsonb,
    state         text NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    run_after     timestamptz NOT NULL DEFAULT now(),
    lease_owner   text,
    lease_expires timestamptz,
    heartbeat_at  timestamptz,
    stage         text,
    progress      jsonb NOT NULL DEFAULT '{}'::jsonb,
    error         text,
    result        jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    UNIQUE (kind, identity)
);
CREATE INDEX jobs_claimable ON rsarchive.jobs (run_after, id) WHERE state IN ('queued', 'running');

CREATE TABLE rsarchive.job_events (
    id       bigserial PRIMARY KEY,
    job_id   bigint NOT NULL REFERENCES rsarchive.jobs (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT now(),
    event    text NOT NULL,
    worker   text,
    stage    text,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX job_events_job ON rsarchive.job_events (job_id, id);
