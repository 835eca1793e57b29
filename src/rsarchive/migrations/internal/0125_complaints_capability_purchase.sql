-- Issue #22: complaints (Decision 81, Art. 9.5; Law on Complaints, Art. 27-28), satellite-capability
-- questions (Art. 13a), paper requests with their real date of receipt, individual requesters, the
-- purchase opinion before a state-budget foreign purchase (Art. 10.2; Decree 03/2019, Art. 15.4) and
-- acquisition route 5.1 d.  The time limits themselves are in law/legal-basis.toml, not here.

-- Individual requesters: a person without an organisation, named with an identity-document number
-- and a contact.  Organisational requesters keep needing their organisation.
ALTER TABLE rsarchive.users
    ADD COLUMN kind text NOT NULL DEFAULT 'organisation' CHECK (kind IN ('organisation', 'individual')),
    ADD COLUMN id_number text,
    ADD COLUMN contact text;
ALTER TABLE rsarchive.users DROP CONSTRAINT users_check;
ALTER TABLE rsarchive.users ADD CONSTRAINT users_requester_party CHECK (
    role <> 'requester'
    OR (kind = 'organisation' AND organisation_id IS NOT NULL)
    OR (kind = 'individual' AND organisation_id IS NULL
        AND length(btrim(coalesce(id_number, ''))) > 0 AND length(btrim(coalesce(contact, ''))) > 0));

-- A request of an individual has no organisation; how it reached the archive, and who typed it in.
ALTER TABLE rsarchive.data_requests
    ALTER COLUMN organisation_id DROP NOT NULL,
    ADD COLUMN channel text NOT NULL DEFAULT 'online' CHECK (channel IN ('online', 'paper')),
    ADD COLUMN entered_by bigint REFERENCES rsarchive.users (id),
    ADD CONSTRAINT data_requests_paper_entered CHECK (channel <> 'paper' OR entered_by IS NOT NULL);

-- Complaints about a request's handling.  received_at starts the acceptance clock; accepted_at the
-- settlement clock; both due dates are fixed when the clock starts.
CREATE TABLE rsarchive.complaints (
    id               bigserial PRIMARY KEY,
    request_id       bigint NOT NULL REFERENCES rsarchive.data_requests (id),
    complainant_id   bigint NOT NULL REFERENCES rsarchive.users (id),
    subject          text NOT NULL CHECK (subject IN ('refusal', 'delay', 'delivery', 'other')),
    description      text NOT NULL CHECK (length(btrim(description)) > 0),
    status           text NOT NULL DEFAULT 'received'
                     CHECK (status IN ('received', 'accepted', 'not_accepted', 'settled')),
    received_at      timestamptz NOT NULL,
    acceptance_due   date NOT NULL,
    accepted_at      timestamptz,
    complex          boolean NOT NULL DEFAULT false,
    settlement_due   date,
    answer           text,
    outcome          text CHECK (outcome IN ('upheld', 'partly_upheld', 'rejected')),
    answered_at      timestamptz,
    answered_by      bigint REFERENCES rsarchive.users (id),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (status NOT IN ('not_accepted', 'settled') OR (length(btrim(coalesce(answer, ''))) > 0
                                                        AND answered_at IS NOT NULL)),
    CHECK (status <> 'settled' OR (accepted_at IS NOT NULL AND outcome IS NOT NULL)),
    CHECK (status <> 'accepted' OR (accepted_at IS NOT NULL AND settlement_due IS NOT NULL))
);
CREATE INDEX complaints_request ON rsarchive.complaints (request_id);
CREATE INDEX complaints_open ON rsarchive.complaints (status) WHERE status IN ('received', 'accepted');

-- Questions on the imaging capability of Vietnam's satellites (Art. 13a), asked in writing for the
-- Ministry, answered in writing by the satellite operator.
CREATE TABLE rsarchive.capability_questions (
    id            bigserial PRIMARY KEY,
    asked_by      bigint NOT NULL REFERENCES rsarchive.users (id),
    reference     text,
    question      text NOT NULL CHECK (length(btrim(question)) > 0),
    area          geometry(Geometry, 4326) NOT NULL,
    wanted_start  date NOT NULL,
    wanted_end    date NOT NULL CHECK (wanted_end >= wanted_start),
    max_gsd       double precision CHECK (max_gsd > 0),
    received_at   timestamptz NOT NULL,
    due_date      date NOT NULL,
    status        text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'answered')),
    can_image     boolean,
    answer        text,
    assessment    jsonb,
    answered_at   timestamptz,
    answered_by   bigint REFERENCES rsarchive.users (id),
    CHECK (status <> 'answered' OR (length(btrim(coalesce(answer, ''))) > 0 AND can_image IS NOT NULL))
);

-- The check before a state-budget foreign purchase, kept with its reasons (both languages).
CREATE TABLE rsarchive.purchase_opinions (
    id           bigserial PRIMARY KEY,
    asked_by     bigint REFERENCES rsarchive.users (id),
    actor        text NOT NULL,
    query        jsonb NOT NULL,
    area         geometry(Geometry, 4326) NOT NULL,
    needed_by    date NOT NULL,
    verdict      text NOT NULL CHECK (verdict IN ('allowed', 'refused')),
    reasons      jsonb NOT NULL,
    coverage     jsonb NOT NULL,
    stations     jsonb NOT NULL,
    basis        jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Foreign data: route 5.1 d (foreign-operated or joint stations); how a purchase was paid for and
-- the opinion it rests on (or the note that none was needed).
ALTER TABLE rsarchive.originals DROP CONSTRAINT originals_route_check;
ALTER TABLE rsarchive.originals
    ADD CONSTRAINT originals_route_check CHECK (route IN ('purchase', 'exchange', 'aid', 'foreign-station')),
    ADD COLUMN funding text CHECK (funding IN ('state_budget', 'other')),
    ADD COLUMN opinion_id bigint REFERENCES rsarchive.purchase_opinions (id),
    ADD COLUMN opinion_note text,
    ADD CONSTRAINT originals_state_budget_opinion CHECK (
        route <> 'purchase' OR funding IS DISTINCT FROM 'state_budget' OR opinion_id IS NOT NULL);
