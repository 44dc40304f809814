/**
 * The top of a V8 CPU profile: self time by function, as DevTools' "Bottom-Up" view sums it.
 * `deno run -R bench/profile_top.ts [--by-owner] <file.cpuprofile> [lines]` prints it for a saved
 * profile (`--by-owner`: summed per npm package or folder of ours).
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  /** `function file:line`, the file shortened to what tells it apart. */
  readonly name: string;
  readonly ms: number;
  /** Share of the sampled time, idle included. */
  readonly share: number;
}

/**
 * Self time per function, largest first (samples weighted by their time deltas); with `by:
 * "owner"`, per npm package or top folder of ours (how much is kafkajs's, how much ours).
 */
export function selfTimes(profile: CpuProfile, by: "function" | "owner" = "function"): SelfTime[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const us = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = byNode.get(samples[i]!);
    // A sample's time is the delta to the next one.
    const dt = Math.max(0, deltas[i + 1] ?? 0);
    if (!node) continue;
    const name = by === "owner" ? ownerName(node.callFrame) : frameName(node.callFrame);
    us.set(name, (us.get(name) ?? 0) + dt);
    total += dt;
  }
  return [...us].map(([name, t]) => ({ name, ms: t / 1000, share: total ? t / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

const ROOT = new URL("..", import.meta.url).href;

function frameName(f: ProfileNode["callFrame"]): string {
  const fn = f.functionName || "(anonymous)";
  if (!f.url) return fn;
  // npm packages by name and path inside the package; our files relative to the repository.
  const npm = /\/node_modules\/\.deno\/[^/]+\/node_modules\/(.*)$/.exec(f.url)?.[1];
  const file = npm ? `npm:${npm}` : f.url.startsWith(ROOT) ? f.url.slice(ROOT.length) : f.url;
  return `${fn} ${file}:${f.lineNumber + 1}`;
}

function ownerName(f: ProfileNode["callFrame"]): string {
  if (!f.url) return f.functionName.startsWith("(") ? f.functionName : "(native)";
  const npm = /\/node_modules\/\.deno\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url)?.[1];
  if (npm) return `npm:${npm}`;
  if (f.url.startsWith(ROOT)) return f.url.slice(ROOT.length).split("/").slice(0, 2).join("/");
  return f.url.startsWith("ext:") ? "(deno runtime)" : f.url;
}

/** The first `lines` entries as an aligned table. */
export function formatTop(times: readonly SelfTime[], lines: number): string {
  return times.slice(0, lines).map((t) =>
    `${(t.share * 100).toFixed(1).padStart(5)} %  ${t.ms.toFixed(0).padStart(7)} ms  ${t.name}`
  ).join("\n");
}

if (import.meta.main) {
  const by = Deno.args.includes("--by-owner") ? "owner" : "function";
  const [path, lines] = Deno.args.filter((a) => !a.startsWith("--"));
  if (!path) {
    console.error("usage: deno run -R bench/profile_top.ts [--by-owner] <file.cpuprofile> [lines]");
    Deno.exit(2);
  }
  const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
  console.log(formatTop(selfTimes(profile, by), Number(lines ?? 25)));
}
