-- Fail closed (issue #26): no default classification.  A delivery catalogued without one
-- is held (never published) until an officer classifies it; the classification is then
-- recorded as an item action (who, when, from what to what).
ALTER TABLE rsarchive.originals ALTER COLUMN classification DROP NOT NULL;
ALTER TABLE rsarchive.originals ALTER COLUMN classification DROP DEFAULT;
ALTER TABLE rsarchive.item_actions DROP CONSTRAINT item_actions_action_check;
ALTER TABLE rsarchive.item_actions ADD CONSTRAINT item_actions_action_check
    CHECK (action IN ('reprocess', 'withdrawn', 'reinstated', 'classified'));
