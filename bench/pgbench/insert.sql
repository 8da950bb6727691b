\set conv random(1, 1000)
INSERT INTO bench_messages (conversation, sender, body, created_at) VALUES (:conv, :conv, repeat('x', 200), now());
