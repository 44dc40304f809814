/**
 * One user of the cross-bucket probe on the WebSocket gateway: its subscriptions, the rows each
 * has been told of (snapshot and live changes applied in order), and every row image it ever
 * received checked against the access model — live, snapshot, moves, deletes and history.
 */
import { mayRead, ProbeState, type ProbeTable, type ProbeUser, rowText } from "./access_model.ts";
import { type Frame, TestClient } from "./ws_client.ts";

interface View {
  table: ProbeTable;
  snapshot: boolean;
  rows: Map<string, string>;
}

export class ProbeObserver {
  readonly leaks: string[] = [];
  changeFrames = 0;
  historyChanges = 0;
  private readonly views = new Map<string, View>();

  private constructor(private readonly client: TestClient, readonly user: ProbeUser) {}

  static async connect(url: string, user: ProbeUser, token: string): Promise<ProbeObserver> {
    return new ProbeObserver(await TestClient.connect(url, token), user);
  }

  /** Subscribes once the gateway serves the table; the reply (`subscribed` or an error). */
  async subscribe(table: ProbeTable, snapshot: boolean): Promise<Frame> {
    for (let tries = 0;; tries++) {
      const reply = await this.client.subscribe(`public.${table}`, { snapshot });
      if (reply.type === "subscribed") {
        this.views.set(reply.sub, { table, snapshot, rows: new Map() });
      }
      if (reply.code !== "not_found" || tries > 300) return reply;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Takes the change frames received so far: checks each, applies it to its view. */
  drain(): void {
    const frames = this.client.frames;
    for (let i = 0; i < frames.length;) {
      const f = frames[i]!;
      if (f.type !== "change") {
        i++;
        continue;
      }
      frames.splice(i, 1);
      this.changeFrames++;
      const view = this.views.get(f.sub);
      if (!view) {
        this.leaks.push(`${this.user.name}: a change for unknown subscription ${f.sub}`);
        continue;
      }
      this.check(view.table, f.change, "live");
      const id = f.change.key.id as string;
      if (f.change.op === "d") view.rows.delete(id);
      else if (f.change.op !== "r" || view.snapshot) {
        view.rows.set(id, rowText(view.table, f.change.after));
      }
    }
  }

  /** Whether every view holds exactly the rows the user should have been told of. */
  converged(state: ProbeState, touched: Record<ProbeTable, Set<string>>): boolean {
    return this.describeDiff(state, touched) === "";
  }

  describeDiff(state: ProbeState, touched: Record<ProbeTable, Set<string>>): string {
    const diffs: string[] = [];
    for (const [sub, view] of this.views) {
      const want = new Set(
        state.visible(this.user, view.table)
          .filter((r) => view.snapshot || touched[view.table].has(r.id))
          .map((r) => rowText(view.table, r)),
      );
      const got = new Set(view.rows.values());
      const missing = [...want].filter((r) => !got.has(r));
      const extra = [...got].filter((r) => !want.has(r));
      if (missing.length || extra.length) {
        diffs.push(
          `${view.table}${view.snapshot ? "+snapshot" : ""} ${sub}: ` +
            `missing ${missing.length}, extra ${extra.length} ${extra.slice(0, 2).join(" ")}`,
        );
      }
    }
    return diffs.join("; ");
  }

  /** Every retained change of the table the user may see, page after page; each one checked. */
  async history(table: ProbeTable): Promise<Frame[]> {
    const changes: Frame[] = [];
    let since: string | undefined;
    for (;;) {
      const ref = crypto.randomUUID();
      this.client.send({ type: "history", ref, table: `public.${table}`, since, limit: 1000 });
      const reply = await this.client.reply(ref);
      if (reply.type !== "history") throw new Error(`history: ${JSON.stringify(reply)}`);
      for (const e of reply.changes) this.check(table, e, "history");
      this.historyChanges += reply.changes.length;
      changes.push(...reply.changes);
      if (!reply.has_more) return changes;
      since = reply.cursor;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** A leak: an image (or the envelope's bucket) of a row the user may not read. */
  private check(table: ProbeTable, e: Frame, how: string): void {
    const images = [e.before, e.after].filter((x) => x !== null && x !== undefined);
    const buckets = table === "payroll" ? [null] : images.map((img) => img.bucket ?? null);
    if (table !== "payroll" && images.length > 0) buckets.push(e.bucket ?? null);
    for (const bucket of buckets) {
      if (!mayRead(this.user, table, bucket)) {
        this.leaks.push(`${this.user.name} got ${how} ${e.op} of ${table} in bucket ${bucket}`);
      }
    }
  }
}
