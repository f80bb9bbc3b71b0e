-- 002_sessions.sql: login sessions.  Migration 2 (user_version 1 -> 2).

CREATE TABLE sessions (
    -- One row per logged-in client.  The token itself exists only at the
    -- client (session cookie or "Authorization: Bearer"); this table keeps
    -- its SHA-256, so reading it does not let anyone log in.  Every backend
    -- sharing this file accepts every session in it.
    token_hash   TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
                                     -- lower-case hex SHA-256 of the 256-bit token
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                                     -- whose session; deleting the user ends it
    created_at   INTEGER NOT NULL,   -- Unix seconds: login
    last_seen_at INTEGER NOT NULL,   -- Unix seconds: last use (refreshed at most once a minute)
    expires_at   INTEGER NOT NULL    -- Unix seconds: refused from this instant on
);

-- Purging expired sessions scans by expiry; cascades and per-user logout
-- look sessions up by user.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);
