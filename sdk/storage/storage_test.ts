import { storageContract } from "./contract.ts";
import { fileStorage } from "./file.ts";
import { memoryStorage } from "./memory.ts";

const dir = await Deno.makeTempDir({ prefix: "synchub-sdk-storage-" });
const targets = {
  memory: { open: () => memoryStorage(), persistent: false },
  file: { open: (name: string) => fileStorage(`${dir}/${name}`), persistent: true },
};

for (const [adapter, target] of Object.entries(targets)) {
  for (const c of storageContract) {
    Deno.test(`storage contract (${adapter}): ${c.name}`, () => c.run(target, crypto.randomUUID()));
  }
}

Deno.test("file storage: a torn last line (a crash mid-write) is ignored", async () => {
  const path = `${dir}/torn`;
  const s = fileStorage(path);
  await s.write([{ store: "queue", key: "1", value: 1 }]);
  await s.close();
  await Deno.writeTextFile(`${path}/synchub.log`, '[["queue","2",2', { append: true });
  const again = fileStorage(path);
  const entries = await again.entries("queue");
  await again.close();
  if (JSON.stringify(entries) !== '[["1",1]]') throw new Error(JSON.stringify(entries));
});
