-- Answers to REST writes sent with an Idempotency-Key, per token subject and key, so a retried
-- request is applied once and answered with the first answer. A row is claimed (`status` null)
-- before the write runs and completed after it; rows older than the retention are deleted.
CREATE TABLE IF NOT EXISTS synchub.idempotency_keys (
  subject      text NOT NULL,
  key          text NOT NULL,
  fingerprint  text NOT NULL,
  status       integer,
  headers      jsonb,
  body         text,
  claimed_at   timestamptz NOT NULL DEFAULT now(),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subject, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON synchub.idempotency_keys (created_at);
