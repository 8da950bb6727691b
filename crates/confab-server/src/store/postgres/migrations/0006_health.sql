-- 6: one row the readiness check (`/readyz`) rewrites to prove the store can still commit.
CREATE TABLE write_probe (
    id    SMALLINT PRIMARY KEY CHECK (id = 1),
    at_ms BIGINT NOT NULL
);
