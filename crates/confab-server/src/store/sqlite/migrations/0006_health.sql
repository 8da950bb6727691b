-- One row the readiness check (`/readyz`) rewrites to prove the store can still commit.
CREATE TABLE write_probe (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    at_ms INTEGER NOT NULL
) STRICT;
