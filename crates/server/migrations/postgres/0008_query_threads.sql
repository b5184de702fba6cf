-- Data queries in the console (issue 13 item 4): each site's console device,
-- whose chain holds the corrections the console makes, and the comment threads
-- of queries. The SQLite twin is ../sqlite/0008_query_threads.sql; keep the two
-- in step.

-- 1 for the one device per site whose events the console writes (label
-- CONSOLE): it has no token anyone holds, takes no lease and is no tablet.
ALTER TABLE devices ADD COLUMN console INTEGER NOT NULL DEFAULT 0 CHECK (console IN (0, 1));

-- A query is named by its shown event and field (the event names the
-- participant and the form).
CREATE TABLE data_query_comments (
    id TEXT PRIMARY KEY NOT NULL,
    shown_event_id TEXT NOT NULL REFERENCES events (id),
    field TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES console_accounts (id),
    at_ms BIGINT NOT NULL,
    text TEXT NOT NULL
);

CREATE INDEX data_query_comments_by_query ON data_query_comments (shown_event_id, field, at_ms);

CREATE TRIGGER data_query_comments_are_never_changed BEFORE UPDATE OR DELETE ON data_query_comments
FOR EACH ROW EXECUTE FUNCTION rows_are_append_only();
