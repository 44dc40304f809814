-- The demo table of the quick start (SPEC §1). REPLICA IDENTITY FULL makes PostgreSQL log whole
-- old rows, so updates and deletes carry `before` (and with it the bucket a delete belongs to).
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE IF NOT EXISTS public.todos (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  bucket     text,
  title      text NOT NULL,
  done       boolean NOT NULL DEFAULT false,
  version    integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE public.todos REPLICA IDENTITY FULL;
CREATE INDEX IF NOT EXISTS todos_bucket_idx ON public.todos (bucket);
