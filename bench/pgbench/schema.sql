-- A table shaped like a message, for the pgbench runs in docs/scaling.md.
CREATE TABLE bench_messages (
    id bigserial PRIMARY KEY,
    conversation int NOT NULL,
    sender int NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX ON bench_messages (conversation, id);
