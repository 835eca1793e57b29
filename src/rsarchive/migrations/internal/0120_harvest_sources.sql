-- The ministries' and provinces' own catalogs harvested into the national one (Decree 03/2019,
-- Art. 17.1 and 18.2; issue #22): the sources and what each harvested item came from.

-- One source per body: its STAC API or static catalog, and how often it is harvested
-- (NULL: by hand only).  `rsarchive harvest run-due` harvests the sources whose interval
-- has passed since their last run.
CREATE TABLE rsarchive.harvest_sources (
    org           text PRIMARY KEY CHECK (org ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    name_vi       text NOT NULL,
    name_en       text NOT NULL,
    url           text NOT NULL,
    every         interval CHECK (every IS NULL OR every > interval '0'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_run_at   timestamptz,
    last_status   text CHECK (last_status IN ('ok', 'failed')),
    last_error    text
);

-- Each item of the national catalog that came from a body's catalog: its provenance, the
-- fingerprint of the source's item (an unchanged item is not touched again), and the clock
-- of Art. 18.2(b): submitted (first harvested) → publication due.
CREATE TABLE rsarchive.harvested_items (
    collection          text NOT NULL,
    item_id             text NOT NULL,
    org                 text NOT NULL REFERENCES rsarchive.harvest_sources (org),
    source_url          text NOT NULL,
    source_collection   text,
    source_id           text NOT NULL,
    source_href         text,
    fingerprint         text NOT NULL,
    classification      text,
    submitted_at        timestamptz NOT NULL,
    publication_due     date NOT NULL,
    harvested_at        timestamptz NOT NULL,
    first_published_at  timestamptz,
    withdrawn_at        timestamptz,
    PRIMARY KEY (collection, item_id)
);
CREATE INDEX harvested_items_org ON rsarchive.harvested_items (org);
CREATE INDEX harvested_items_due ON rsarchive.harvested_items (publication_due) WHERE first_published_at IS NULL;
