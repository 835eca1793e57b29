-- The archive's own schema in the internal database (pgSTAC lives in schema pgstac).
CREATE SCHEMA IF NOT EXISTS rsarchive;
COMMENT ON SCHEMA rsarchive IS 'rsarchive application tables (objects, jobs, requests, audit); numbered migrations';

-- Service events: when the local stack was brought up and by which version.
CREATE TABLE rsarchive.service_events (
    id          bigserial PRIMARY KEY,
    event       text NOT NULL CHECK (event IN ('up', 'migrate')),
    version     text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL DEFAULT now()
);
