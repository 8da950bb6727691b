-- 7: where each token was minted (device, address) and when it was last used.
ALTER TABLE tokens ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last_seen_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tokens_by_user ON tokens (user_id);
