-- 1: users, tokens, conversations, members, messages, cursors.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_ms    INTEGER NOT NULL
);
CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('room', 'direct')),
    name       TEXT UNIQUE,
    user_a     INTEGER REFERENCES users(id),
    user_b     INTEGER REFERENCES users(id),
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    UNIQUE (user_a, user_b)
);
CREATE TABLE members (
    conv_id   INTEGER NOT NULL REFERENCES conversations(id),
    user_id   INTEGER NOT NULL REFERENCES users(id),
    joined_ms INTEGER NOT NULL,
    PRIMARY KEY (conv_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members(user_id, conv_id);
CREATE TABLE messages (
    conv_id    INTEGER NOT NULL REFERENCES conversations(id),
    seq        INTEGER NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    sender_id  INTEGER NOT NULL REFERENCES users(id),
    receiver   TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    client_id  TEXT,
    PRIMARY KEY (conv_id, seq)
) WITHOUT ROWID;
-- NULLs are distinct in a UNIQUE index: messages without a client id never clash.
CREATE UNIQUE INDEX messages_idempotency ON messages(sender_id, client_id);
CREATE TABLE cursors (
    user_id INTEGER NOT NULL REFERENCES users(id),
    conv_id INTEGER NOT NULL REFERENCES conversations(id),
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, conv_id)
) WITHOUT ROWID;
