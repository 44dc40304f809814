/**
 * Bucket authorisation (SPEC §5.3), as pure decisions. A token holds bucket ids or "*" (all).
 * Rows whose bucket is null are readable by every valid token, writable only with "*".
 */

export interface BucketGrant {
  readonly all: boolean;
  readonly buckets: ReadonlySet<string>;
}

export function grantOf(buckets: readonly string[]): BucketGrant {
  return { all: buckets.includes("*"), buckets: new Set(buckets.filter((b) => b !== "*")) };
}

export function canRead(grant: BucketGrant, bucket: string | null): boolean {
  return bucket === null || grant.all || grant.buckets.has(bucket);
}

export function canWrite(grant: BucketGrant, bucket: string | null): boolean {
  return grant.all || (bucket !== null && grant.buckets.has(bucket));
}

/** The bucket a new row goes to when the body names none: the token's only bucket, if it has one. */
export function defaultBucket(grant: BucketGrant): string | null {
  if (grant.all || grant.buckets.size !== 1) return null;
  return grant.buckets.values().next().value ?? null;
}

/** A row's bucket value as the string the grant compares against. */
export function bucketValue(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === "string" ? value : JSON.stringify(value);
}
