-- 003_tracker.sql: the chat tracker's tables.  Migration 3 (user_version 2 -> 3).
--
-- The tracker (`weaprous tracker`) registers each user's peer (IP and P2P
-- port), keeps channels and who belongs to them, and introduces peers to
-- each other with one-time tickets.  Messages never pass through it.
-- Timestamps are Unix seconds (UTC): datetime(x, 'unixepoch') shows them.

CREATE TABLE peers (
    -- The peer (chat client) of each account: at most one per user, a new
    -- registration replaces the old one.  Rows are kept after a peer goes
    -- away so that "last seen 5 min ago" can be shown.
    user_id        INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                                        -- whose peer (one per account)
    ip             TEXT NOT NULL,       -- address other peers connect to (IPv4 or IPv6 text)
    port           INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
                                        -- its P2P TCP port
    registered_at  INTEGER NOT NULL,    -- Unix seconds: last POST /submit-info
    last_seen_at   INTEGER NOT NULL,    -- Unix seconds: last submit-info or heart-beat
    heartbeat_ms   INTEGER NOT NULL CHECK (heartbeat_ms > 0),
                                        -- interval told to the peer (milliseconds, jittered)
    expires_at     INTEGER NOT NULL,    -- Unix seconds: last_seen_at + three intervals;
                                        -- from then on the peer is not active
    online         INTEGER NOT NULL DEFAULT 1 CHECK (online IN (0, 1)),
                                        -- 1: announced and not yet expired (the sweeper
                                        -- clears it); 0: offline.  Active means
                                        -- online = 1 AND expires_at > now.
    stopped_at     INTEGER              -- Unix seconds: logout or "stopped" event; NULL
                                        -- while registered.  A stopped peer must
                                        -- submit-info again before heart-beating.
);
CREATE INDEX peers_by_expiry ON peers (online, expires_at);

CREATE TABLE channels (
    -- Chat channels.  Access: public (anyone joins), private (owner's
    -- invitation needed), password (the channel password needed).
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE COLLATE NOCASE
                   CHECK (length(name) BETWEEN 1 AND 32),
                                        -- [A-Za-z0-9_-], unique ignoring case
    access         TEXT NOT NULL DEFAULT 'public'
                   CHECK (access IN ('public', 'private', 'password')),
    password_hash  TEXT CHECK ((access = 'password') = (password_hash IS NOT NULL)),
                                        -- crypt(3) string of the channel password
                                        -- (access 'password' only), never the password
    owner_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
                                        -- who manages it (invites); NULL: the operator's
    created_at     INTEGER NOT NULL     -- Unix seconds
);

CREATE TABLE memberships (
    -- Who belongs to which channel.  Peers accept channel messages only
    -- from members.
    channel_id     INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role           TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
    joined_at      INTEGER NOT NULL,    -- Unix seconds
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE invitations (
    -- Pending invitations (private channels admit only invited users; an
    -- invitation also waives a channel password).  Used up on joining.
    channel_id     INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                                        -- who may join
    invited_by     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL,    -- Unix seconds
    PRIMARY KEY (channel_id, user_id)
);

CREATE TABLE tickets (
    -- One-time introduction tickets (POST /connect-peer).  The caller gives
    -- the ticket to the target peer, which checks it with POST
    -- /verify-ticket and so learns who is connecting.  Only the SHA-256 of
    -- the ticket is kept.
    token_hash     TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
                                        -- lower-case hex SHA-256 of the 256-bit ticket
    caller_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                                        -- who asked for the introduction
    target_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                                        -- the only user who may verify it
    created_at     INTEGER NOT NULL,    -- Unix seconds
    expires_at     INTEGER NOT NULL,    -- Unix seconds: refused from this instant on
    used_at        INTEGER              -- Unix seconds: verified (a ticket works once)
);
CREATE INDEX tickets_by_caller ON tickets (caller_id, expires_at);
CREATE INDEX tickets_by_expiry ON tickets (expires_at);

-- A fresh database has the public channel "general", owned by the operator.
INSERT INTO channels (name, access, owner_id, created_at)
    VALUES ('general', 'public', NULL, CAST(strftime('%s', 'now') AS INTEGER));
