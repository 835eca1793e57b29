-- Identity, data requests and their duties (Decision 81/2010, Art. 8-11).
-- Organisations, users with roles and clearance; API tokens stored only as sha256 digests.
CREATE TABLE rsarchive.organisations (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(btrim(name)) > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rsarchive.users (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (length(btrim(name)) > 0),
    role            text NOT NULL CHECK (role IN ('requester', 'officer', 'operator', 'admin')),
    organisation_id bigint REFERENCES rsarchive.organisations (id),
    clearance       text NOT NULL DEFAULT 'unclassified'
                    CHECK (clearance IN ('unclassified', 'confidential', 'secret', 'top-secret')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    CHECK (role <> 'requester' OR organisation_id IS NOT NULL)
);

-- API tokens: the catalog's token table (0020) gains an owner.  A token with a user
-- carries that user's role and clearance; one without (made before roles existed)
-- can only read the internal catalog.
ALTER TABLE rsarchive.api_tokens ADD COLUMN user_id bigint REFERENCES rsarchive.users (id);
CREATE INDEX api_tokens_user ON rsarchive.api_tokens (user_id);

-- Data requests (Art. 8.2): received_at starts the clock; due_date is fixed at receipt.
CREATE TABLE rsarchive.data_requests (
    id              bigserial PRIMARY KEY,
    organisation_id bigint NOT NULL REFERENCES rsarchive.organisations (id),
    submitted_by    bigint NOT NULL REFERENCES rsarchive.users (id),
    status          text NOT NULL DEFAULT 'submitted'
                    CHECK (status IN ('submitted', 'in_review', 'approved', 'fulfilled', 'refused', 'cancelled')),
    purpose         text NOT NULL,
    form            jsonb NOT NULL,
    area            geometry(Geometry, 4326) NOT NULL,
    received_at     timestamptz NOT NULL,
    due_date        date NOT NULL,
    decided_at      timestamptz,
    refusal_reason  text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'refused' OR length(btrim(coalesce(refusal_reason, ''))) > 0)
);
CREATE INDEX data_requests_org ON rsarchive.data_requests (organisation_id);
CREATE INDEX data_requests_open ON rsarchive.data_requests (due_date) WHERE status IN ('submitted', 'in_review', 'approved');

-- Every transition, the clock, downloads, reports and user management.
CREATE TABLE rsarchive.audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint REFERENCES rsarchive.users (id),
    action      text NOT NULL,
    request_id  bigint REFERENCES rsarchive.data_requests (id),
    from_status text,
    to_status   text,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_request ON rsarchive.audit_log (request_id, id);

-- Deliveries (fulfilment): the manifest and the fee statement, frozen at fulfilment.
CREATE TABLE rsarchive.deliveries (
    request_id    bigint PRIMARY KEY REFERENCES rsarchive.data_requests (id),
    manifest      jsonb NOT NULL,
    fee_statement jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The HMAC key for signed download URLs (one row; generated on first use).
CREATE TABLE rsarchive.signing_keys (
    id          int PRIMARY KEY CHECK (id = 1),
    secret      bytea NOT NULL CHECK (length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rsarchive.downloads (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     bigint NOT NULL REFERENCES rsarchive.users (id),
    request_id  bigint NOT NULL REFERENCES rsarchive.data_requests (id),
    item_id     text NOT NULL,
    asset       text NOT NULL,
    bytes       bigint NOT NULL DEFAULT 0,
    completed   boolean NOT NULL DEFAULT false
);

-- Error reports (Art. 9.4) and what officers did about them.
CREATE TABLE rsarchive.error_reports (
    id           bigserial PRIMARY KEY,
    request_id   bigint NOT NULL REFERENCES rsarchive.data_requests (id),
    item_id      text NOT NULL,
    reporter_id  bigint NOT NULL REFERENCES rsarchive.users (id),
    description  text NOT NULL CHECK (length(btrim(description)) > 0),
    status       text NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'dismissed', 'reprocess', 'withdrawn')),
    resolution   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolved_by  bigint REFERENCES rsarchive.users (id)
);

-- Items marked for reprocessing or withdrawn from the public catalog.
CREATE TABLE rsarchive.item_actions (
    id          bigserial PRIMARY KEY,
    item_id     text NOT NULL,
    collection  text NOT NULL,
    action      text NOT NULL CHECK (action IN ('reprocess', 'withdrawn')),
    report_id   bigint REFERENCES rsarchive.error_reports (id),
    actor_id    bigint REFERENCES rsarchive.users (id),
    reason      text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX item_actions_item ON rsarchive.item_actions (item_id);
