-- How a coordinator resolved an allocation flag (trial::audit): the note, who and
-- when. One resolution per flag, never changed: a second one is refused (409), and
-- the triggers below keep the first as it was written. The PostgreSQL twin is
-- ../postgres/0009_flag_resolutions.sql; keep the two in step.
CREATE TABLE allocation_flag_resolutions (
    event_id TEXT NOT NULL,
    -- trial::allocation::AllocationFlag::code
    code TEXT NOT NULL,
    -- trial::audit::ResolutionNote: trimmed, never empty.
    note TEXT NOT NULL CHECK (note <> ''),
    account_id TEXT NOT NULL REFERENCES console_accounts (id),
    resolved_at_ms INTEGER NOT NULL,
    PRIMARY KEY (event_id, code),
    FOREIGN KEY (event_id, code) REFERENCES allocation_flags (event_id, code)
) STRICT;

CREATE TRIGGER allocation_flag_resolutions_are_never_updated
BEFORE UPDATE ON allocation_flag_resolutions
BEGIN
    SELECT RAISE(ABORT, 'allocation_flag_resolutions are append-only');
END;
CREATE TRIGGER allocation_flag_resolutions_are_never_deleted
BEFORE DELETE ON allocation_flag_resolutions
BEGIN
    SELECT RAISE(ABORT, 'allocation_flag_resolutions are append-only');
END;
