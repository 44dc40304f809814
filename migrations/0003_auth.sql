-- Users of the REST API and their buckets. In the synchub schema: never published, never served
-- as rows. Refresh tokens are kept only as hashes, in rotation families: a token used twice
-- (stolen and replayed) revokes its whole family.
CREATE TABLE IF NOT EXISTS synchub.users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  is_admin      boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS synchub.user_buckets (
  user_id    uuid NOT NULL REFERENCES synchub.users (id) ON DELETE CASCADE,
  bucket     text NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, bucket)
);

CREATE TABLE IF NOT EXISTS synchub.refresh_tokens (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid NOT NULL REFERENCES synchub.users (id) ON DELETE CASCADE,
  family     uuid NOT NULL,
  token_hash text NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family_idx ON synchub.refresh_tokens (family);
