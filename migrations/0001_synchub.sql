-- The hub's own state. Positions of sources whose database cannot hold them for us (MySQL binlog
-- coordinates, MongoDB resume tokens) are stored here, only after the bus has confirmed them.
CREATE SCHEMA IF NOT EXISTS synchub;

CREATE TABLE IF NOT EXISTS synchub.source_positions (
  source     text PRIMARY KEY,
  position   text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
