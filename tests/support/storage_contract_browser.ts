/** Entry bundled for the browser: the storage contract run against IndexedDB in the page. */
import { storageContract } from "../../sdk/storage/contract.ts";
import { indexedDbStorage } from "../../sdk/storage/indexeddb.ts";

export async function runContract(): Promise<{ name: string; error?: string }[]> {
  const target = { open: (name: string) => indexedDbStorage(name), persistent: true };
  const results: { name: string; error?: string }[] = [];
  for (const c of storageContract) {
    try {
      await c.run(target, `contract-${crypto.randomUUID()}`);
      results.push({ name: c.name });
    } catch (err) {
      results.push({ name: c.name, error: String((err as Error)?.stack ?? err) });
    }
  }
  return results;
}
