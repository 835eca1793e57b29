-- Catalog and API (issue 7): API tokens for the internal STAC API, the publication log,
-- and pgSTAC settings the archive relies on.

-- Bearer tokens for the internal API.  Only the sha256 of a token is stored; the token
-- itself is shown once when it is created.  The requests issue adds roles on top.
CREATE TABLE rsarchive.api_tokens (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    token_sha256  text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

-- Every publication decision for an item of the internal catalog: published (a sanitised
-- copy went to the public database), withheld (its security classification forbids it) or
-- withdrawn (removed from the public database).
CREATE TABLE rsarchive.publications (
    id              bigserial PRIMARY KEY,
    item_id         text NOT NULL,
    collection      text NOT NULL,
    action          text NOT NULL CHECK (action IN ('published', 'withheld', 'withdrawn')),
    classification  text NOT NULL,
    reason          text NOT NULL DEFAULT '',
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX publications_item_idx ON rsarchive.publications (collection, item_id, at DESC);

-- numberMatched in search responses (the public API promises it; tests count with it).
INSERT INTO pgstac.pgstac_settings (name, value) VALUES ('context', 'on')
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
