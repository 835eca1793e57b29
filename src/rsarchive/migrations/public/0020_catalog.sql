-- Catalog publication (issue 7): what the archive published into this database and when.
-- Only published (unclassified, sanitised) items ever reach this database.
CREATE TABLE rsarchive.published_items (
    item_id       text NOT NULL,
    collection    text NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, item_id)
);

-- numberMatched in search responses.
INSERT INTO pgstac.pgstac_settings (name, value) VALUES ('context', 'on')
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
