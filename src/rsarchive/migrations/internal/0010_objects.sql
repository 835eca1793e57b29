-- Object storage (issue 6): what is stored, its checksums and copies, fixity checks and repairs,
-- and publications (products staged, verified, then committed with the catalog transaction).

CREATE TABLE rsarchive.objects (
    key             text PRIMARY KEY,
    form            text NOT NULL CHECK (form IN ('level0', 'raw', 'product', 'original')),
    size            bigint NOT NULL CHECK (size >= 0),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    stored_at       timestamptz NOT NULL DEFAULT now(),
    copies          smallint NOT NULL CHECK (copies >= 1),
    primary_store   text NOT NULL,
    copy_store      text,
    publication     text,
    last_checked_at timestamptz,
    last_status     text CHECK (last_status IN ('ok', 'damaged', 'missing', 'repaired', 'unrepairable')),
    CHECK (form NOT IN ('level0', 'original') OR (copies >= 2 AND copy_store IS NOT NULL))
);
COMMENT ON TABLE rsarchive.objects IS 'every object the archive counts as stored: key (form/…), size, sha256, verified copies';
CREATE INDEX objects_form_idx ON rsarchive.objects (form);
CREATE INDEX objects_checked_idx ON rsarchive.objects (last_checked_at NULLS FIRST);

-- Objects of level0/original are immutable: the application never updates their bytes' identity or deletes them.
CREATE FUNCTION rsarchive.objects_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.form IN ('level0', 'original') THEN
            RAISE EXCEPTION 'object % (%) is immutable and cannot be deleted', OLD.key, OLD.form;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.form IN ('level0', 'original') AND (NEW.sha256 <> OLD.sha256 OR NEW.size <> OLD.size) THEN
        RAISE EXCEPTION 'object % (%) is immutable: its sha256 and size cannot change', OLD.key, OLD.form;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER objects_immutable BEFORE UPDATE OR DELETE ON rsarchive.objects
    FOR EACH ROW EXECUTE FUNCTION rsarchive.objects_immutable();

-- Every fixity check and every repair, primary and copy, kept forever.
CREATE TABLE rsarchive.fixity_events (
    id              bigserial PRIMARY KEY,
    key             text NOT NULL,
    store           text NOT NULL CHECK (store IN ('primary', 'copy')),
    action          text NOT NULL CHECK (action IN ('check', 'repair')),
    outcome         text NOT NULL CHECK (outcome IN ('ok', 'damaged', 'missing', 'repaired', 'failed')),
    expected_sha256 text NOT NULL,
    found_sha256    text,
    found_size      bigint,
    detail          text NOT NULL DEFAULT '',
    audit_run       text NOT NULL,
    at              timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE rsarchive.fixity_events IS 'audit log: every fixity check and repair of an object (Decision 81, Art. 6.4)';
CREATE INDEX fixity_events_key_idx ON rsarchive.fixity_events (key, at);

-- Storage transactions (publications of raw/product objects): a set of objects staged under staging/<txn>/… then committed together.
CREATE TABLE rsarchive.storage_txns (
    txn_id       text PRIMARY KEY,
    state        text NOT NULL CHECK (state IN ('staging', 'committed', 'abandoned')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    committed_at timestamptz
);
CREATE TABLE rsarchive.storage_txn_objects (
    txn_id      text NOT NULL REFERENCES rsarchive.storage_txns ON DELETE CASCADE,
    key         text NOT NULL,
    staging_key text NOT NULL,
    size        bigint NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (txn_id, key)
);
