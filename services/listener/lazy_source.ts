/**
 * A source whose adapter (and its driver: mysql2 and zongji, or mongodb — tens of MB each) is
 * loaded only when the source is configured and first used, so a hub that captures PostgreSQL
 * alone never pays for the others.
 */
import type { TableInfo } from "../../lib/catalog.ts";
import type { Connector } from "../../lib/envelope.ts";
import type { Source, SourceBatch, SourceHealth } from "./source.ts";

export class LazySource implements Source {
  private loaded: Source | undefined;
  private loading: Promise<Source> | undefined;

  constructor(
    readonly name: string,
    readonly connector: Connector,
    private readonly load: () => Promise<Source>,
  ) {}

  private get(): Promise<Source> {
    return this.loading ??= this.load().then((s) => this.loaded = s);
  }

  async *stream(signal: AbortSignal): AsyncIterable<SourceBatch> {
    yield* (await this.get()).stream(signal);
  }

  async confirm(checkpoint: string): Promise<void> {
    await (await this.get()).confirm(checkpoint);
  }

  ready(): boolean {
    return this.loaded?.ready() ?? false;
  }

  async tables(): Promise<TableInfo[]> {
    return await (await this.get()).tables();
  }

  health(): SourceHealth {
    return this.loaded?.health?.() ?? {};
  }

  async close(): Promise<void> {
    await this.loaded?.close?.();
  }
}
