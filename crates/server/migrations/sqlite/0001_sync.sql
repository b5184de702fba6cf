-- The sync server's first schema: sites, their users, one-time enrolment codes, the
-- enrolled devices and every event they pushed. The PostgreSQL twin is
-- ../postgres/0001_sync.sql; keep the two in step.
--
-- Portable types only, so one set of queries serves both engines: uuids, hashes
-- (lowercase hex) and codes are TEXT, instants are INTEGER milliseconds since
-- 1970 UTC (`*_ms`). STRICT makes SQLite refuse a value of the wrong type.

CREATE TABLE sites (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- IANA name; calendar questions are answered in it.
    time_zone TEXT NOT NULL,
    -- How many devices ever enrolled here: the next label is T<this + 1>.
    devices_enrolled INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    site_code TEXT NOT NULL REFERENCES sites (code),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    -- trial::pin::PinHash: PBKDF2-HMAC-SHA256, never the PIN.
    pin_salt TEXT NOT NULL,
    pin_iterations INTEGER NOT NULL,
    pin_hash TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (site_code, name)
) STRICT;

CREATE TABLE enrolment_codes (
    -- SHA-256 of the code's 8 characters: the code itself is a credential.
    code_hash TEXT PRIMARY KEY NOT NULL,
    site_code TEXT NOT NULL REFERENCES sites (code),
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER,
    used_by_device TEXT
) STRICT;

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    site_code TEXT NOT NULL REFERENCES sites (code),
    label TEXT NOT NULL,
    -- SHA-256 of the bearer token (high-entropy, so no salt or stretching needed).
    token_hash TEXT NOT NULL UNIQUE,
    app_version TEXT NOT NULL,
    enrolled_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    -- The chain head the server acknowledged: the last stored event of the device.
    last_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_hash TEXT NOT NULL,
    last_push_at_ms INTEGER,
    UNIQUE (site_code, label)
) STRICT;

CREATE TABLE events (
    -- The server's order, handed out under the lock of the `counters` row, so a
    -- later cursor is never committed before an earlier one (pull relies on it).
    server_seq INTEGER PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL REFERENCES devices (id),
    device_seq INTEGER NOT NULL CHECK (device_seq >= 1),
    recorded_at_ms INTEGER NOT NULL,
    recorded_offset_minutes INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- The payload's JSON text exactly as hashed.
    payload TEXT NOT NULL,
    app_version TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    -- Set when the event was stored but refused as data (trial::wire::RejectionCode).
    rejection_code TEXT,
    rejection_message TEXT,
    UNIQUE (device_id, device_seq)
) STRICT;

CREATE INDEX events_by_participant ON events (participant_id);

-- The audit trail is append-only, in the database too.
CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) STRICT;

INSERT INTO counters (name, value) VALUES ('event_server_seq', 0);
