-- 2: reactions and read markers (delivered-up-to is `cursors`).
CREATE TABLE reactions (
    message_id TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
CREATE TABLE reads (
    user_id BIGINT NOT NULL REFERENCES users (id),
    conv_id BIGINT NOT NULL REFERENCES conversations (id),
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, conv_id)
);
