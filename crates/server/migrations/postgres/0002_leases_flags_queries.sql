-- Allocation leases issued by the server, the randomisations devices reported from
-- them and the flags raised on those, and data queries. The SQLite twin is
-- ../sqlite/0002_leases_flags_queries.sql; keep the two in step.

-- The tablet's ECDH P-256 public key (lowercase hex, 65 bytes uncompressed), to
-- which every lease seed is sealed; NULL for a device enrolled before leases.
ALTER TABLE devices ADD COLUMN public_key TEXT;
ALTER TABLE devices ADD COLUMN last_lease_request_at_ms BIGINT;

-- One secret per site, made when the site first needs a lease: every seed of the
-- site is HMAC-SHA-256(secret, lease id), so seeds are never stored. Changing it
-- would change every list in the field, hence the triggers below.
CREATE TABLE site_secrets (
    site_code TEXT PRIMARY KEY REFERENCES sites (code),
    -- 64 lowercase hex digits. Never logged, never shown.
    secret TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE leases (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id),
    site_code TEXT NOT NULL REFERENCES sites (code),
    -- 1, 2, 3, … per device: the order the device consumes its leases in.
    ordinal BIGINT NOT NULL CHECK (ordinal >= 1),
    -- The randomisation configuration's block sizes, as a JSON array.
    block_sizes TEXT NOT NULL,
    n_slots BIGINT NOT NULL CHECK (n_slots >= 1),
    issued_at_ms BIGINT NOT NULL,
    UNIQUE (device_id, ordinal)
);

-- Every stored randomisation whose payload is valid, flagged or not, with the
-- lease it names (which need not be one the server issued).
CREATE TABLE allocations (
    event_id TEXT PRIMARY KEY REFERENCES events (id),
    device_id TEXT NOT NULL REFERENCES devices (id),
    participant_id TEXT NOT NULL,
    lease_id TEXT NOT NULL,
    slot BIGINT NOT NULL CHECK (slot >= 0),
    arm TEXT NOT NULL,
    study_number TEXT NOT NULL
);

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
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (event_id, code)
);

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
    opened_at_ms BIGINT NOT NULL,
    closed_at_ms BIGINT,
    closed_by_event_id TEXT REFERENCES events (id),
    PRIMARY KEY (participant_id, form_ref, field, shown_event_id)
);

CREATE INDEX open_data_queries ON data_queries (site_code, closed_at_ms);

-- Secrets, leases, allocations and flags are an audit trail too: append-only.
CREATE FUNCTION rows_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% are append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER site_secrets_are_never_changed BEFORE UPDATE OR DELETE ON site_secrets
FOR EACH ROW EXECUTE FUNCTION rows_are_append_only();
CREATE TRIGGER leases_are_never_changed BEFORE UPDATE OR DELETE ON leases
FOR EACH ROW EXECUTE FUNCTION rows_are_append_only();
CREATE TRIGGER allocations_are_never_changed BEFORE UPDATE OR DELETE ON allocations
FOR EACH ROW EXECUTE FUNCTION rows_are_append_only();
CREATE TRIGGER allocation_flags_are_never_changed BEFORE UPDATE OR DELETE ON allocation_flags
FOR EACH ROW EXECUTE FUNCTION rows_are_append_only();
