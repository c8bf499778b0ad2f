-- Removes what the Postgres-source examples leave in the source database.
-- The replication slot first: until it is dropped it holds WAL forever.
SELECT pg_drop_replication_slot('tributary_example') FROM pg_replication_slots WHERE slot_name = 'tributary_example';
DROP PUBLICATION IF EXISTS tributary_example;
DROP SCHEMA IF EXISTS shop CASCADE;
