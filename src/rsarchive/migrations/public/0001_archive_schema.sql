-- The public database holds only published metadata (pgSTAC); this schema records
-- what the archive published and when, so publication can be audited.
CREATE SCHEMA IF NOT EXISTS rsarchive;
COMMENT ON SCHEMA rsarchive IS 'rsarchive bookkeeping in the public database; numbered migrations';
