-- 5: profiles, contacts, room invitations and invite links.
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_id TEXT;
-- What the avatar's upload looked like when it was set (the protocol's AttachmentInfo as JSON):
-- an upload never changes, so profiles and contact lists are read without a lookup per avatar.
ALTER TABLE users ADD COLUMN avatar_json TEXT;
CREATE INDEX users_by_avatar ON users(avatar_id) WHERE avatar_id IS NOT NULL;
CREATE TABLE contacts (
    user_id    INTEGER NOT NULL REFERENCES users(id),
    contact_id INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, contact_id)
) WITHOUT ROWID;
CREATE TABLE invitations (
    id         TEXT PRIMARY KEY,
    conv_id    INTEGER NOT NULL REFERENCES conversations(id),
    inviter_id INTEGER NOT NULL REFERENCES users(id),
    invitee_id INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    UNIQUE (conv_id, invitee_id)
) WITHOUT ROWID;
CREATE INDEX invitations_by_invitee ON invitations(invitee_id);
CREATE TABLE invite_links (
    code       TEXT PRIMARY KEY,
    conv_id    INTEGER NOT NULL REFERENCES conversations(id),
    creator_id INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    max_uses   INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0,
    revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX invite_links_by_room ON invite_links(conv_id, created_ms);
