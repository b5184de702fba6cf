-- What each tablet said of itself at the start of its last sync
-- (trial::wire::StatusReport), for the console's devices table: overwritten at
-- every report, read by nothing the server decides. The PostgreSQL twin is
-- ../postgres/0010_device_status.sql; keep the two in step.
ALTER TABLE devices ADD COLUMN reported_at_ms INTEGER;
ALTER TABLE devices ADD COLUMN reported_clock_ms INTEGER;
ALTER TABLE devices ADD COLUMN reported_head_seq INTEGER CHECK (reported_head_seq >= 0);
ALTER TABLE devices ADD COLUMN reported_app_version TEXT;
