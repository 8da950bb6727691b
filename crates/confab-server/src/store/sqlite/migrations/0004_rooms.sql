-- 4: rooms with host powers: visibility, password, topic, roles, mutes and bans.
ALTER TABLE conversations ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'private'));
ALTER TABLE conversations ADD COLUMN password_hash TEXT;
ALTER TABLE conversations ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'moderator', 'member'));
ALTER TABLE members ADD COLUMN muted_until_ms INTEGER;
CREATE TABLE bans (
    conv_id    INTEGER NOT NULL REFERENCES conversations(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    by_user_id INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (conv_id, user_id)
) WITHOUT ROWID;
