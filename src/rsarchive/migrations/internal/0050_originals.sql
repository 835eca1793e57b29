-- Foreign data registered as received (Decision 81, Art. 5.1 b-c): the delivery, its files
-- (kept as `original` + `copy` in rsarchive.objects) and the three-month deadline for its
-- metadata (Art. 13.4).  metadata_reported_at is set when the metadata is catalogued.
CREATE TABLE rsarchive.originals (
    delivery_id          text PRIMARY KEY,
    provider             text NOT NULL,
    route                text NOT NULL CHECK (route IN ('purchase', 'exchange', 'aid')),
    received             date NOT NULL,
    metadata_due         date NOT NULL,
    keys                 text[] NOT NULL,
    metadata             jsonb,
    item_id              text,
    classification       text NOT NULL DEFAULT 'unclassified',
    metadata_reported_at timestamptz,
    registered_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX originals_pending ON rsarchive.originals (metadata_due) WHERE metadata_reported_at IS NULL;
