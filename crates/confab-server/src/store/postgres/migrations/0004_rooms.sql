-- 4: mutes (they outlive the membership) and bans.
CREATE TABLE mutes (
    conv_id    BIGINT NOT NULL REFERENCES conversations (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    until_ms   BIGINT NOT NULL,
    by_user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (conv_id, user_id)
);
CREATE TABLE bans (
    conv_id    BIGINT NOT NULL REFERENCES conversations (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    by_user_id BIGINT NOT NULL REFERENCES users (id),
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (conv_id, user_id)
);
