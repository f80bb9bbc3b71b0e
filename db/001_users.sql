-- 001_users.sql: accounts.  Migration 1 (PRAGMA user_version 0 -> 1).
--
-- Applied by the store (src/db.c) inside one transaction, which also sets
-- user_version; never edit a released migration, add the next number.
-- Comments inside CREATE statements are kept by SQLite, so that
-- `sqlite3 db/weaprous.db .schema` explains every column.

CREATE TABLE users (
    -- One row per account that may log in (backend pages, tracker, peers).
    -- Timestamps in this database are Unix seconds (UTC); show them with
    -- datetime(created_at, 'unixepoch').
    id            INTEGER PRIMARY KEY,   -- account number, referenced by other tables
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE
                  CHECK (length(name) BETWEEN 1 AND 32),
                                         -- login name, unique ignoring ASCII case
    password_hash TEXT NOT NULL,         -- crypt(3) string: "$y$..." (yescrypt) or
                                         -- "$6$..." (sha512crypt); never the password
    created_at    INTEGER NOT NULL,      -- Unix seconds: account created
    password_changed_at INTEGER NOT NULL,-- Unix seconds: password last set
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
                                         -- 1: may not log in, its sessions stop working
);
