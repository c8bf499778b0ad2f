-- The source side of the Postgres examples: a small shop table in schema
-- "shop" of database "test". Safe to run again (it starts over).
DROP SCHEMA IF EXISTS shop CASCADE;
CREATE SCHEMA shop;
CREATE TABLE shop.orders (
  id       integer PRIMARY KEY,
  customer text NOT NULL,
  total    numeric(10, 2),
  placed   timestamptz NOT NULL DEFAULT '2024-05-01 12:00:00+00'
);
INSERT INTO shop.orders (id, customer, total) VALUES (1, 'ada', 12.50), (2, 'bob', 7.00), (3, 'cyd', 30.25);
