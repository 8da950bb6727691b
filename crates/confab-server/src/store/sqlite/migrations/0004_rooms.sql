-- 4: rooms with host powers: visibility, password, topic, roles, mutes and bans.
ALTER TABLE conversations ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'private'));
-- argon2id, PHC format; NULL when the room has no password.
ALTER TABLE conversations ADD COLUMN password_hash TEXT;
ALTER TABLE conversations ADD COLUMN topic TEXT NOT NULL DEFAULT '';
-- Set when the room was deleted. Everything about the room is erased; only this emptied row
-- stays, renamed '~<id>' (no room name can look like that), so its name is free again and
-- its id is never handed to another conversation (SQLite reuses the highest rowid).
ALTER TABLE conversations ADD COLUMN deleted_ms INTEGER;
-- One owner per room (none in #general); the role goes with the membership.
ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'moderator', 'member'));
CREATE INDEX members_hosts ON members(conv_id, user_id) WHERE role <> 'member';
-- A mute outlives the membership: leaving and joining again does not end it.
CREATE TABLE mutes (
    conv_id    INTEGER NOT NULL REFERENCES conversations(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    until_ms   INTEGER NOT NULL,
    by_user_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (conv_id, user_id)
) WITHOUT ROWID;
CREATE TABLE bans (
    conv_id    INTEGER NOT NULL REFERENCES conversations(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    by_user_id INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (conv_id, user_id)
) WITHOUT ROWID;
