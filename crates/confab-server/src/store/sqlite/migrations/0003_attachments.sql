-- 3: attachments. The bytes live in the blob store, named by their SHA-256; a row here is one
-- upload (who, what type, which name). An upload is "posted" once a message refers to it
-- (messages.attachment_id) or a profile uses it as an avatar (users.avatar_id). Several rows
-- may share one blob (the same bytes uploaded twice); a blob is deleted with its last row.
-- An image's thumbnail is a blob too (thumb_sha256, of type thumb_mime).
CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    uploader_id INTEGER NOT NULL REFERENCES users(id),
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mime        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('image', 'audio', 'video', 'file')),
    name        TEXT NOT NULL,
    width       INTEGER,
    height      INTEGER,
    thumb_sha256 TEXT,
    thumb_mime  TEXT,
    created_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX attachments_by_sha ON attachments(sha256);
CREATE INDEX attachments_by_thumb ON attachments(thumb_sha256) WHERE thumb_sha256 IS NOT NULL;
CREATE INDEX attachments_by_age ON attachments(created_ms);
