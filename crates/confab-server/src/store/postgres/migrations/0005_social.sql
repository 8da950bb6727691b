-- 5: contacts, room invitations and invite links.
CREATE TABLE contacts (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    contact_id BIGINT NOT NULL REFERENCES users (id),
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, contact_id)
);
CREATE TABLE invitations (
    id         TEXT PRIMARY KEY,
    conv_id    BIGINT NOT NULL REFERENCES conversations (id),
    inviter_id BIGINT NOT NULL REFERENCES users (id),
    invitee_id BIGINT NOT NULL REFERENCES users (id),
    created_ms BIGINT NOT NULL,
    UNIQUE (conv_id, invitee_id)
);
CREATE INDEX invitations_by_invitee ON invitations (invitee_id);
CREATE TABLE invite_links (
    code       TEXT PRIMARY KEY,
    conv_id    BIGINT NOT NULL REFERENCES conversations (id),
    creator_id BIGINT NOT NULL REFERENCES users (id),
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    max_uses   BIGINT NOT NULL,
    uses       BIGINT NOT NULL DEFAULT 0,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX invite_links_by_room ON invite_links (conv_id, created_ms);
