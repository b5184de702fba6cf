-- PIN lockouts the tablets imposed and reported (POST /api/lockouts,
-- store/lockouts.rs): an audit record of a tablet, not of a participant, so the
-- coordinator hears that someone tried PIN after PIN on it. The PostgreSQL twin
-- is ../postgres/0006_pin_lockouts.sql; keep the two in step.
CREATE TABLE pin_lockouts (
    -- Made by the tablet, so a report sent again is kept once.
    id TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    -- When the wait began, on the tablet's clock.
    at_ms INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    wait_ms INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX pin_lockouts_by_device ON pin_lockouts (device_id, at_ms);
