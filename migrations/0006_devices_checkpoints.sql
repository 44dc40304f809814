-- SPEC §10: devices and their stored subscriptions (owned by a token's `sub`, which need not be
-- an account: dev tokens own devices too), and checkpoints' metadata (their rows are files under
-- DATA_DIR/checkpoints). In the synchub schema: never published, never served as rows.
CREATE TABLE IF NOT EXISTS synchub.devices (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner      text NOT NULL,
  name       text NOT NULL,
  platform   text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS devices_owner_idx ON synchub.devices (owner, created_at);

-- `cursor`: where the subscription resumes — the bus position at its creation until the device
-- acknowledges a later one.
CREATE TABLE IF NOT EXISTS synchub.device_subscriptions (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  device_id  uuid NOT NULL REFERENCES synchub.devices (id) ON DELETE CASCADE,
  table_name text NOT NULL,
  filter     jsonb,
  cursor     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  acked_at   timestamptz
);
CREATE INDEX IF NOT EXISTS device_subscriptions_device_idx
  ON synchub.device_subscriptions (device_id, created_at);

CREATE TABLE IF NOT EXISTS synchub.checkpoints (
  id           uuid PRIMARY KEY,
  bucket       text NOT NULL,
  tables       text[] NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
  -- Rows and bytes written so far while pending; the totals once ready.
  rows         bigint NOT NULL DEFAULT 0,
  bytes        bigint NOT NULL DEFAULT 0,
  ndjson_bytes bigint NOT NULL DEFAULT 0,
  progress     jsonb,
  cursor       text,
  error        text,
  created_by   text NOT NULL,
  scheduled    boolean NOT NULL DEFAULT false,
  requested_at timestamptz NOT NULL DEFAULT now(),
  -- The instant the rows are of (the snapshot's), once taken.
  created_at   timestamptz,
  completed_at timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS checkpoints_bucket_idx ON synchub.checkpoints (bucket, requested_at);
