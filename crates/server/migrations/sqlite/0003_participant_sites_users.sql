-- Which site each participant belongs to, and when a user stops recording. The
-- PostgreSQL twin is ../postgres/0003_participant_sites_users.sql; keep the two in
-- step.

-- The site of the device whose event about the participant the server stored
-- first: a tablet writes only for its own site's participants.
CREATE TABLE participants (
    id TEXT PRIMARY KEY NOT NULL,
    site_code TEXT NOT NULL REFERENCES sites (code),
    claimed_by_device TEXT NOT NULL REFERENCES devices (id),
    claimed_at_ms INTEGER NOT NULL
) STRICT;

INSERT INTO participants (id, site_code, claimed_by_device, claimed_at_ms)
SELECT e.participant_id, d.site_code, e.device_id, e.received_at_ms
FROM events e JOIN devices d ON d.id = e.device_id
WHERE e.server_seq = (
    SELECT MIN(first.server_seq) FROM events first WHERE first.participant_id = e.participant_id
);

CREATE TRIGGER participants_are_never_updated BEFORE UPDATE ON participants
BEGIN
    SELECT RAISE(ABORT, 'participants are append-only');
END;
CREATE TRIGGER participants_are_never_deleted BEFORE DELETE ON participants
BEGIN
    SELECT RAISE(ABORT, 'participants are append-only');
END;

-- Set when the coordinator disables a user: events they record after it are
-- refused as data, and tablets drop them at their next sync.
ALTER TABLE users ADD COLUMN disabled_at_ms INTEGER;

-- Study numbers are unique in the trial; verification looks each one up.
CREATE INDEX allocations_by_study_number ON allocations (study_number);

-- Which screening or form instance each accepted event writes
-- (trial::edits::Subject, as data_queries.form_ref stores it), so the server can
-- fold one subject's events again without reading the participant's whole log.
CREATE TABLE event_subjects (
    event_id TEXT PRIMARY KEY NOT NULL REFERENCES events (id),
    participant_id TEXT NOT NULL,
    subject TEXT NOT NULL
) STRICT;

CREATE INDEX event_subjects_by_subject ON event_subjects (participant_id, subject);

-- What the data-query rule knows of each subject (trial::edits::SubjectState as
-- JSON): updated by every push that writes the subject, so a push costs the same
-- however long the participant's history is. Derived from the events: it can be
-- rebuilt from them at any time, and is the one table that is not append-only.
CREATE TABLE subject_states (
    participant_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (participant_id, subject)
) STRICT;
