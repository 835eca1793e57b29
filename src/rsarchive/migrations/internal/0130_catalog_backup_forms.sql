-- Issue 19, part 7: catalog records (catalog/<kind>/<id>.json: a publication's items and object
-- records, kept in the stores so that `rsarchive catalog rebuild` can recreate the catalogs) and
-- database dumps (backup/<run>/<db>.dump + manifest) are archive objects too: sha256, a verified
-- copy, audited like the rest.  Neither is immutable (records are rewritten, old dumps expire).
ALTER TABLE rsarchive.objects DROP CONSTRAINT IF EXISTS objects_form_check;
ALTER TABLE rsarchive.objects ADD CONSTRAINT objects_form_check
    CHECK (form IN ('level0', 'raw', 'product', 'original', 'catalog', 'backup'));
