-- Web sessions, token expiry and failed-login throttling (issue #26, part 7).

-- API tokens expire.  A token issued or renewed gets now() + token_lifetime_days (the
-- setting); this default only covers tokens made by code that does not say, and the
-- tokens that exist when this migration runs.
ALTER TABLE rsarchive.api_tokens ADD COLUMN expires_at timestamptz;
UPDATE rsarchive.api_tokens SET expires_at = greatest(created_at, now()) + interval '90 days';
ALTER TABLE rsarchive.api_tokens ALTER COLUMN expires_at SET DEFAULT now() + interval '90 days',
                                 ALTER COLUMN expires_at SET NOT NULL;

-- A web session: the login form exchanges an API token for a session whose random secret
-- sits in an HttpOnly cookie (only its sha256 is stored).  It ends at expires_at (absolute,
-- session_lifetime_minutes after login, never after its token's expiry), at logout, or
-- when its token or user is revoked.
CREATE TABLE rsarchive.web_sessions (
    id             bigserial PRIMARY KEY,
    secret_sha256  text NOT NULL UNIQUE CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    token_id       bigint NOT NULL REFERENCES rsarchive.api_tokens (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    ended_at       timestamptz
);
CREATE INDEX web_sessions_token ON rsarchive.web_sessions (token_id);

-- Failed web logins, one row per failure and per key ('address:<ip>', 'account:<name>'),
-- kept in the database so that every uvicorn worker counts the same failures.  Rows older
-- than the window are deleted as new failures arrive.
CREATE TABLE rsarchive.login_failures (
    id   bigserial PRIMARY KEY,
    key  text NOT NULL,
    at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key ON rsarchive.login_failures (key, at);
