/**
 * Writing the configuration back to its YAML file (PUT /api/v1/config): only the values that
 * changed are touched in the parsed document, so comments, layout and `${VAR}` references of
 * everything else stay as written; tables are matched by name, so removing or reordering one
 * keeps the others' comments. The file is replaced atomically (a temporary file beside it, then a
 * rename), keeping its permissions.
 */
import { type Document, isMap, isScalar, isSeq, type Node, YAMLMap, YAMLSeq } from "yaml";

type Json = Record<string, unknown>;

/**
 * A copy of `document` carrying `next` where it differs from `previous` (the configuration in
 * effect, as JSON, `${VAR}` references expanded). A value equal to the one in effect is left as
 * the file has it — a reference, or absent (a default).
 */
export function updatedDocument(document: Document, previous: unknown, next: unknown): Document {
  const doc = document.clone();
  if (!isMap(doc.contents)) {
    doc.contents = doc.createNode(next) as never;
    return doc;
  }
  mergeMap(doc, doc.contents, asObject(previous), asObject(next));
  return doc;
}

function mergeMap(doc: Document, map: YAMLMap, previous: Json, next: Json): void {
  for (const pair of [...map.items]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (!(key in next)) map.delete(pair.key);
  }
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined) continue;
    const old = previous[key];
    if (deepEqual(old, value)) continue;
    const node = map.get(key, true) as Node | undefined;
    map.set(key, merged(doc, node, old, value));
  }
}

/** The node to hold `value`, reusing `node` (and its comments) where it can. */
function merged(doc: Document, node: Node | undefined, old: unknown, value: unknown): unknown {
  if (isMap(node) && isPlainObject(value)) {
    mergeMap(doc, node, asObject(old), value);
    return node;
  }
  if (isSeq(node) && Array.isArray(value) && Array.isArray(old) && value.every(isNamed)) {
    mergeNamedSeq(doc, node, old, value);
    return node;
  }
  if (isScalar(node) && (value === null || typeof value !== "object")) {
    node.value = value;
    return node;
  }
  return doc.createNode(value);
}

/** Items with a `name` (tables): matched by name, so each keeps its own comments. */
function mergeNamedSeq(
  doc: Document,
  seq: YAMLSeq,
  old: unknown[],
  value: (Json & { name: string })[],
): void {
  const byName = new Map<string, { node: unknown; old: unknown }>();
  old.forEach((o, i) => {
    if (isNamed(o)) byName.set(o.name, { node: seq.items[i], old: o });
  });
  seq.items = value.map((v) => {
    const was = byName.get(v.name);
    if (!was || !isMap(was.node)) return doc.createNode(v);
    mergeMap(doc, was.node, asObject(was.old), v);
    return was.node;
  }) as typeof seq.items;
}

/** Replaces `path` with `text` atomically: a temporary file in the same directory, then rename. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) || "/" : ".";
  const base = path.slice(slash + 1);
  const temp = `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const mode = await Deno.stat(path).then((s) => s.mode ?? undefined, () => undefined);
  try {
    await Deno.writeTextFile(temp, text, mode === undefined ? {} : { mode: mode & 0o777 });
    const file = await Deno.open(temp, { read: true, write: true });
    try {
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asObject(v: unknown): Json {
  return isPlainObject(v) ? v : {};
}

function isNamed(v: unknown): v is Json & { name: string } {
  return isPlainObject(v) && typeof v.name === "string";
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}
