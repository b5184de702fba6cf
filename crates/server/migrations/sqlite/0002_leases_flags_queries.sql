-- Allocation leases issued by the server, the randomisations devices reported from
-- them and the flags raised on those, and data queries. The PostgreSQL twin is
-- ../postgres/0002_leases_flags_queries.sql; keep the two in step.

-- The tablet's ECDH P-256 public key (lowercase hex, 65 bytes uncompressed), to
-- which every lease seed is sealed; NULL for a device enrolled before leases.
ALTER TABLE devices ADD COLUMN public_key TEXT;
ALTER TABLE devices ADD COLUMN last_lease_request_at_ms INTEGER;

-- One secret per site, made when the site first needs a lease: every seed of the
-- site is HMAC-SHA-256(secret, lease id), so seeds are never stored. Changing it
-- would change every list in the field, hence the triggers below.
CREATE TABLE site_secrets (
    site_code TEXT PRIMARY KEY NOT NULL REFERENCES sites (code),
    -- 64 lowercase hex digits. Never logged, never shown.
    secret TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE leases (
    id TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices (id),
    site_code TEXT NOT NULL REFERENCES sites (code),
    -- 1, 2, 3, … per device: the order the device consumes its leases in.
    ordinal INTEGER NOT NULL CHECK (ordinal >= 1),
    -- The randomisation configuration's block sizes, as a JSON array.
    block_sizes TEXT NOT NULL,
    n_slots INTEGER NOT NULL CHECK (n_slots >= 1),
    issued_at_ms INTEGER NOT NULL,
    UNIQUE (device_id, ordinal)
) STRICT;

-- Every stored randomisation whose payload is valid, flagged or not, with the
-- lease it names (which need not be one the server issued).
CREATE TABLE allocations (
    event_id TEXT PRIMARY KEY NOT NULL REFERENCES events (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    participant_id TEXT NOT NULL,
    lease_id TEXT NOT NULL,
    slot INTEGER NOT NULL CHECK (slot >= 0),
    arm TEXT NOT NULL,
    study_number TEXT NOT NULL
) STRICT;

CREATE INDEX allocations_by_lease ON allocations (lease_id, device_id);
CREATE INDEX allocations_by_participant ON allocations (participant_id);

-- What the server could not verify of a randomisation (trial::allocation), for the
-- coordinator: one row per problem.
CREATE TABLE allocation_flags (
    event_id TEXT NOT NULL REFERENCES events (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    -- trial::allocation::AllocationFlag::code
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (event_id, code)
) STRICT;

-- Two devices changed one field blind (trial::projection::Conflict): open until a
-- later correction of the field is stored.
CREATE TABLE data_queries (
    participant_id TEXT NOT NULL,
    -- trial::crf::FormRef as JSON.
    form_ref TEXT NOT NULL,
    -- trial::field::Field's key.
    field TEXT NOT NULL,
    -- The change that shows, and the one it replaced unseen.
    shown_event_id TEXT NOT NULL REFERENCES events (id),
    overridden_event_id TEXT NOT NULL REFERENCES events (id),
    site_code TEXT NOT NULL REFERENCES sites (code),
    opened_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER,
    closed_by_event_id TEXT REFERENCES events (id),
    PRIMARY KEY (participant_id, form_ref, field, shown_event_id)
) STRICT;

CREATE INDEX open_data_queries ON data_queries (site_code, closed_at_ms);

-- Secrets, leases, allocations and flags are an audit trail too: append-only.
CREATE TRIGGER site_secrets_are_never_updated BEFORE UPDATE ON site_secrets
BEGIN
    SELECT RAISE(ABORT, 'site_secrets are append-only');
END;
CREATE TRIGGER site_secrets_are_never_deleted BEFORE DELETE ON site_secrets
BEGIN
    SELECT RAISE(ABORT, 'site_secrets are append-only');
END;
CREATE TRIGGER leases_are_never_updated BEFORE UPDATE ON leases
BEGIN
    SELECT RAISE(ABORT, 'leases are append-only');
END;
CREATE TRIGGER leases_are_never_deleted BEFORE DELETE ON leases
BEGIN
    SELECT RAISE(ABORT, 'leases are append-only');
END;
CREATE TRIGGER allocations_are_never_updated BEFORE UPDATE ON allocations
BEGIN
    SELECT RAISE(ABORT, 'allocations are append-only');
END;
CREATE TRIGGER allocations_are_never_deleted BEFORE DELETE ON allocations
BEGIN
    SELECT RAISE(ABORT, 'allocations are append-only');
END;
CREATE TRIGGER allocation_flags_are_never_updated BEFORE UPDATE ON allocation_flags
BEGIN
    SELECT RAISE(ABORT, 'allocation_flags are append-only');
END;
CREATE TRIGGER allocation_flags_are_never_deleted BEFORE DELETE ON allocation_flags
BEGIN
    SELECT RAISE(ABORT, 'allocation_flags are append-only');
END;
