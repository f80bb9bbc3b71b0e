-- The database of one chat peer (`weaprous peer --db FILE`): whose peer
-- this is and its tracker session, the browser sessions of that user, the
-- conversations it takes part in and their whole message history.
--
-- Times: columns ending in _at are Unix seconds (UTC); columns ending in
-- _ms are Unix milliseconds.  Messages are immutable: rows of `messages`
-- are inserted, their delivery `state` may move forward, nothing else is
-- ever updated or deleted.
--
-- Read it with: sqlite3 db/peer-7001.db 'SELECT * FROM messages ORDER BY channel, lamport, origin'

-- Who this peer is: one row, written at the first sign-in.
CREATE TABLE identity (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    user             TEXT NOT NULL,     -- the account, as the tracker spells it
    tracker_token    TEXT,              -- tracker session (Bearer token); NULL once signed out
    token_expires_at INTEGER,           -- when the tracker said that session ends
    signed_in_at     INTEGER NOT NULL
);

-- Sessions of the user's browser on this peer's local API.  Only the
-- SHA-256 (hex) of each session cookie is kept, never the cookie.
CREATE TABLE browser_sessions (
    token_hash  TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- Channels this peer has joined and direct conversations (dm:A:B, the two
-- user names in byte order).  The read marker says that every message at
-- or before (read_lamport, read_origin) in history order has been read.
CREATE TABLE conversations (
    channel      TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('channel', 'dm')),
    access       TEXT,                  -- channels: public, private or password
    peer         TEXT,                  -- dm: the other user
    joined_at    INTEGER NOT NULL,
    left_at      INTEGER,               -- channels left: history kept, read-only
    read_lamport INTEGER NOT NULL DEFAULT 0,
    read_origin  TEXT NOT NULL DEFAULT ''
);

-- Every message of every conversation, own and received.  Identity is
-- (channel, origin, seq): seq counts an origin's messages in one channel
-- from 1 without gaps, so storing a message twice is impossible.  History
-- order is (lamport, origin), the same on every member.
CREATE TABLE messages (
    channel        TEXT NOT NULL REFERENCES conversations (channel),
    origin         TEXT NOT NULL,       -- the author
    seq            INTEGER NOT NULL CHECK (seq >= 1),
    lamport        INTEGER NOT NULL CHECK (lamport >= 1),
    sent_at_ms     INTEGER NOT NULL,    -- the author's clock
    received_at_ms INTEGER NOT NULL,    -- this peer's clock when stored
    text           TEXT NOT NULL,
    state          TEXT CHECK (state IN ('pending', 'sent', 'delivered')),
                                        -- own messages: pending (stored, on no
                                        -- link yet), sent, delivered; NULL for
                                        -- other authors' messages
    client_id      TEXT,                -- own messages: the browser's retry key
    PRIMARY KEY (channel, origin, seq)
) WITHOUT ROWID;
CREATE INDEX messages_history ON messages (channel, lamport, origin);
CREATE UNIQUE INDEX messages_client_id ON messages (channel, origin, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX messages_pending ON messages (channel) WHERE state = 'pending';

-- What this peer holds, per (channel, origin): every seq from 1 to
-- `contiguous` (what a `have` frame says), and at most `max_seq`.
CREATE TABLE vectors (
    channel     TEXT NOT NULL,
    origin      TEXT NOT NULL,
    contiguous  INTEGER NOT NULL CHECK (contiguous >= 0),
    max_seq     INTEGER NOT NULL CHECK (max_seq >= contiguous),
    PRIMARY KEY (channel, origin)
) WITHOUT ROWID;

-- What each other member is known to hold of this peer's own messages in
-- a conversation (from its `have` frames): the delivery counts.
CREATE TABLE member_have (
    channel     TEXT NOT NULL,
    member      TEXT NOT NULL,
    contiguous  INTEGER NOT NULL CHECK (contiguous >= 0),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (channel, member)
) WITHOUT ROWID;
