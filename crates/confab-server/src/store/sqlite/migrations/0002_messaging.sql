-- 2: rich messages, conversation events, reactions, read markers, cleared chats, search.
--
-- Every change in a conversation takes the next seq, so catch-up after an absence replays
-- edits, deletes and reactions the same way it replays messages. A row's `kind` says what
-- it is: a message ('text', 'image', 'audio', 'video', 'file', 'location') or an event about
-- the message `target_id` ('edit', 'delete', 'reaction'). Events carry no content of their
-- own: they are sent with the target's state at the time of sending.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
ALTER TABLE messages ADD COLUMN target_id TEXT;
ALTER TABLE messages ADD COLUMN reply_to_id TEXT;
ALTER TABLE messages ADD COLUMN attachment_id TEXT;
-- The attachment as messages show it (AttachmentInfo JSON), fixed when it was posted.
ALTER TABLE messages ADD COLUMN attachment_json TEXT;
ALTER TABLE messages ADD COLUMN latitude REAL;
ALTER TABLE messages ADD COLUMN longitude REAL;
ALTER TABLE messages ADD COLUMN location_label TEXT;
ALTER TABLE messages ADD COLUMN edited_ms INTEGER;
ALTER TABLE messages ADD COLUMN deleted_ms INTEGER;
CREATE INDEX messages_by_attachment ON messages(attachment_id) WHERE attachment_id IS NOT NULL;

CREATE TABLE reactions (
    message_id TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;

-- Read-up-to markers (delivered-up-to is `cursors`).
CREATE TABLE reads (
    user_id INTEGER NOT NULL REFERENCES users(id),
    conv_id INTEGER NOT NULL REFERENCES conversations(id),
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, conv_id)
) WITHOUT ROWID;

-- "Delete chat": the member no longer lists the conversation and sees nothing up to
-- `cleared_seq`; a newer message brings it back.
ALTER TABLE members ADD COLUMN cleared_seq INTEGER NOT NULL DEFAULT 0;

-- Full-text search lives in its own file (search.db), kept by the indexer: see
-- store/sqlite/indexer.rs.
