-- Scheduled duties and e-mail notifications (issue #23).
--
-- duty_runs: one row per duty and scheduled time.  Every `rsarchive scheduler` inserts the row
-- with ON CONFLICT DO NOTHING before it runs a duty; only the instance whose insert made the
-- row runs it, so several schedulers never run a duty twice.  The row records the outcome.
CREATE TABLE rsarchive.duty_runs (
    id           bigserial PRIMARY KEY,
    duty         text NOT NULL,
    scheduled_at timestamptz NOT NULL,
    runner       text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    outcome      text NOT NULL DEFAULT 'running'
                 CHECK (outcome IN ('running', 'succeeded', 'failed', 'unavailable')),
    error        text,
    UNIQUE (duty, scheduled_at)
);
CREATE INDEX duty_runs_latest ON rsarchive.duty_runs (duty, scheduled_at DESC);

-- mail_outbox: messages written in the same transaction as what they tell about (a request's
-- transition, a failed job, an audit's damage), sent afterwards with retries.  `recipients`
-- holds addresses; the word 'operators' stands for the operators_email setting, read when sent.
-- `dedup` (optional) keeps a reminder from being queued twice.
CREATE TABLE rsarchive.mail_outbox (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL,
    recipients    text[] NOT NULL,
    subject       text NOT NULL,
    body          text NOT NULL,
    attachments   jsonb NOT NULL DEFAULT '[]'::jsonb,
    dedup         text UNIQUE,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    next_attempt  timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX mail_outbox_pending ON rsarchive.mail_outbox (next_attempt) WHERE state = 'pending';
