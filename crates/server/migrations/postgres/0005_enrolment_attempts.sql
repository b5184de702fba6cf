-- Enrolment attempts per client address, for the rate limit on POST /api/enrol
-- (store/attempts.rs). The SQLite twin is ../sqlite/0005_enrolment_attempts.sql;
-- keep the two in step.
--
-- In the database, not in a process's memory, so every server process behind a
-- load balancer counts the same attempts (DESIGN.md, "Deployment"). Rows older
-- than the window are deleted as new attempts arrive: this is a counter, not part
-- of the audit trail (each failed attempt is also logged).
CREATE TABLE enrolment_attempts (
    id TEXT PRIMARY KEY,
    -- The client's address (IPv4) or /64 prefix (IPv6); never the code typed.
    client TEXT NOT NULL,
    attempted_at_ms BIGINT NOT NULL
);

CREATE INDEX enrolment_attempts_by_client ON enrolment_attempts (client, attempted_at_ms);
CREATE INDEX enrolment_attempts_by_age ON enrolment_attempts (attempted_at_ms);
