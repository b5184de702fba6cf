-- Every export written, for the audit trail: who asked, when, what and how much,
-- never a value from it. The PostgreSQL twin is ../postgres/0004_exports.sql;
-- keep the two in step.

CREATE TABLE exports (
    id TEXT PRIMARY KEY NOT NULL,
    site_code TEXT NOT NULL REFERENCES sites (code),
    -- csv, odm or all.
    format TEXT NOT NULL,
    -- Who asked: "command line" until the console signs people in.
    requested_by TEXT NOT NULL,
    participants INTEGER NOT NULL CHECK (participants >= 0),
    events INTEGER NOT NULL CHECK (events >= 0),
    started_at_ms INTEGER NOT NULL,
    finished_at_ms INTEGER NOT NULL
) STRICT;

CREATE TRIGGER exports_are_never_updated BEFORE UPDATE ON exports
BEGIN
    SELECT RAISE(ABORT, 'exports are append-only');
END;
CREATE TRIGGER exports_are_never_deleted BEFORE DELETE ON exports
BEGIN
    SELECT RAISE(ABORT, 'exports are append-only');
END;
