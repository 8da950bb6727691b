-- 3: attachments: one row per upload; the bytes are a blob named by their SHA-256.
CREATE TABLE attachments (
    id           TEXT PRIMARY KEY,
    uploader_id  BIGINT NOT NULL REFERENCES users (id),
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    mime         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('image', 'audio', 'video', 'file')),
    name         TEXT NOT NULL,
    width        BIGINT,
    height       BIGINT,
    thumb_sha256 TEXT,
    thumb_mime   TEXT,
    created_ms   BIGINT NOT NULL
);
CREATE INDEX attachments_by_sha ON attachments (sha256);
CREATE INDEX attachments_by_thumb ON attachments (thumb_sha256) WHERE thumb_sha256 IS NOT NULL;
CREATE INDEX attachments_by_age ON attachments (created_ms);
