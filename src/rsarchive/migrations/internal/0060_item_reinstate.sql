-- Withdrawn items stay withdrawn until an officer reinstates them: publication looks up
-- each item's latest 'withdrawn'/'reinstated' action (rsarchive.catalog.publication).
ALTER TABLE rsarchive.item_actions DROP CONSTRAINT item_actions_action_check;
ALTER TABLE rsarchive.item_actions ADD CONSTRAINT item_actions_action_check
    CHECK (action IN ('reprocess', 'withdrawn', 'reinstated'));
CREATE INDEX item_actions_latest ON rsarchive.item_actions (collection, item_id, id DESC);
