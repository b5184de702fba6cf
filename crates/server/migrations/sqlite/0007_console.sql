-- The coordinator console's accounts, one-time links, sessions and audit trail
-- (store/console.rs, trial::console). The PostgreSQL twin is
-- ../postgres/0007_console.sql; keep the two in step.
--
-- Console accounts are the server's own, apart from the tablets' users: their
-- passwords (Argon2id, PHC strings) never leave the server.
CREATE TABLE console_accounts (
    id TEXT PRIMARY KEY NOT NULL,
    -- Unique as typed, ignoring case: two accounts "li na" and "Li Na" would be
    -- one person to a reader of the audit trail.
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    disabled_at_ms INTEGER,
    -- Failed sign-ins in a row, and until when the next try must wait.
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    wait_until_ms INTEGER NOT NULL DEFAULT 0
) STRICT;

-- One-time links to set up an account: only the SHA-256 of the token is kept.
CREATE TABLE console_invitations (
    token_hash TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL,
    -- Who made it; none for the first coordinator's link, made at start.
    created_by TEXT REFERENCES console_accounts (id),
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER,
    used_by TEXT REFERENCES console_accounts (id)
) STRICT;

-- Signed-in sessions: only the SHA-256 of the cookie's token is kept.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES console_accounts (id),
    signed_in_at_ms INTEGER NOT NULL,
    last_used_at_ms INTEGER NOT NULL,
    ended_at_ms INTEGER
) STRICT;

-- Every console action: who, what, when, from where. Never a password or token.
CREATE TABLE console_audit (
    id TEXT PRIMARY KEY NOT NULL,
    at_ms INTEGER NOT NULL,
    account_id TEXT REFERENCES console_accounts (id),
    event TEXT NOT NULL,
    detail TEXT NOT NULL,
    client TEXT NOT NULL
) STRICT;

CREATE INDEX console_audit_by_time ON console_audit (at_ms);
