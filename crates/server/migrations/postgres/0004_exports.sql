-- Every export written, for the audit trail: who asked, when, what and how much,
-- never a value from it. The SQLite twin is ../sqlite/0004_exports.sql; keep the
-- two in step.

CREATE TABLE exports (
    id TEXT PRIMARY KEY NOT NULL,
    site_code TEXT NOT NULL REFERENCES sites (code),
    -- csv, odm or all.
    format TEXT NOT NULL,
    -- Who asked: "command line" until the console signs people in.
    requested_by TEXT NOT NULL,
    participants BIGINT NOT NULL CHECK (participants >= 0),
    events BIGINT NOT NULL CHECK (events >= 0),
    started_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT NOT NULL
);

CREATE TRIGGER exports_are_never_changed BEFORE UPDATE OR DELETE ON exports
FOR EACH ROW EXECUTE FUNCTION rows_are_append_only();
