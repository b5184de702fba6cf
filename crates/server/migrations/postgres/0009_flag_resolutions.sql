-- How a coordinator resolved an allocation flag (trial::audit): the note, who and
-- when. One resolution per flag, never changed: a second one is refused (409), and
-- the trigger below keeps the first as it was written. The SQLite twin is
-- ../sqlite/0009_flag_resolutions.sql; keep the two in step.
CREATE TABLE allocation_flag_resolutions (
    event_id TEXT NOT NULL,
    -- trial::allocation::AllocationFlag::code
    code TEXT NOT NULL,
    -- trial::audit::ResolutionNote: trimmed, never empty.
    note TEXT NOT NULL CHECK (note <> ''),
    account_id TEXT NOT NULL REFERENCES console_accounts (id),
    resolved_at_ms BIGINT NOT NULL,
    PRIMARY KEY (event_id, code),
    FOREIGN KEY (event_id, code) REFERENCES allocation_flags (event_id, code)
);

-- rows_are_append_only() is 0002's.
CREATE TRIGGER allocation_flag_resolutions_are_never_changed
BEFORE UPDATE OR DELETE ON allocation_flag_resolutions
FOR EACH ROW EXECUTE FUNCTION rows_are_append_only();
