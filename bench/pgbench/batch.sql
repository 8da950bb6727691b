\set conv random(1, 1000)
INSERT INTO bench_messages (conversation, sender, body, created_at) SELECT :conv, g, repeat('x', 200), now() FROM generate_series(1, 64) g;
