-- 002_message_state.sql: migration 2 of a peer's database (user_version
-- 1 -> 2).  `messages` is rebuilt with the same columns, rows and indexes;
-- only its `state` check changes from IN (...) to comparisons: SQLite
-- evaluates an IN list in a CHECK through a temporary b-tree on every
-- insert, about half of what storing a message costs.

CREATE TABLE messages_v2 (
    channel        TEXT NOT NULL REFERENCES conversations (channel),
    origin         TEXT NOT NULL,       -- the author
    seq            INTEGER NOT NULL CHECK (seq >= 1),
    lamport        INTEGER NOT NULL CHECK (lamport >= 1),
    sent_at_ms     INTEGER NOT NULL,    -- the author's clock
    received_at_ms INTEGER NOT NULL,    -- this peer's clock when stored
    text           TEXT NOT NULL,
    state          TEXT CHECK (state = 'pending' OR state = 'sent' OR state = 'delivered'),
                                        -- own messages: pending (stored, on no
                                        -- link yet), sent, delivered; NULL for
                                        -- other authors' messages
    client_id      TEXT,                -- own messages: the browser's retry key
    PRIMARY KEY (channel, origin, seq)
) WITHOUT ROWID;
INSERT INTO messages_v2 (channel, origin, seq, lamport, sent_at_ms, received_at_ms, text,
                         state, client_id)
    SELECT channel, origin, seq, lamport, sent_at_ms, received_at_ms, text, state, client_id
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
CREATE INDEX messages_history ON messages (channel, lamport, origin);
CREATE UNIQUE INDEX messages_client_id ON messages (channel, origin, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX messages_pending ON messages (channel) WHERE state = 'pending';
