/**
 * The source contract, live: PostgreSQL (embedded) and MariaDB (Debian package), both started by
 * `deno task test`; MongoDB when MONGODB_URL names a replica set — otherwise the adapter is checked
 * on MongoDB's documented event shapes (services/listener/mongodb/decode_test.ts) and this says so.
 */
import { columnNamed } from "../lib/access.ts";
import { MongoClient } from "mongodb";
import { silentLogger } from "../lib/log.ts";
import { ChangeStreamSource } from "../services/listener/mongodb/change_stream_source.ts";
import { BinlogSource } from "../services/listener/mysql/binlog_source.ts";
import { WalSource } from "../services/listener/postgres/wal_source.ts";
import { mysqlConnection, withMySql } from "./support/mysql.ts";
import { MemoryPositionStore } from "./support/positions.ts";
import { testDatabase } from "./support/postgres.ts";
import { type Op, sourceContract } from "./support/source_contract.ts";

const unique = () => crypto.randomUUID().replace(/-/g, "").slice(0, 10);

sourceContract({
  name: "postgres",
  async setup() {
    const db = await testDatabase();
    await db.sql("CREATE TABLE items (id int PRIMARY KEY, bucket text, title text, n int)");
    await db.sql("ALTER TABLE items REPLICA IDENTITY FULL");
    const slot = `s_${unique()}`;
    const source = (over: Partial<ConstructorParameters<typeof WalSource>[0]> = {}) =>
      new WalSource({
        name: "pg",
        url: db.url,
        slot,
        publication: "synchub",
        publicationTables: undefined,
        bucketColumns: columnNamed("bucket"),
        log: silentLogger,
        statusIntervalMs: 200,
        ...over,
      });
    return {
      table: { db: db.name, schema: "public", name: "items" },
      connector: "postgresql",
      makeSource: () => source(),
      transaction: async (ops) => {
        await db.sql(`BEGIN; ${ops.map(sqlOf).join("; ")}; COMMIT`);
      },
      badSources: async () => {
        const foreign = `s_${unique()}`;
        await db.sql("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", [foreign]);
        return [
          {
            what: "a slot of another plugin",
            source: source({ slot: foreign }),
            error: /pgoutput/,
          },
          {
            what: "a database that does not exist",
            source: source({ url: db.url.replace(/\/[^/]+$/, "/nope") }),
            error: /nope/,
          },
        ];
      },
      teardown: () => db.drop(),
    };
  },
});

withMySql("mysql source contract", (url, { ignore }) =>
  sourceContract({
    name: "mysql",
    ignore,
    async setup() {
      const dbName = `c_${unique()}`;
      const conn = await mysqlConnection(url);
      await conn.query(
        `CREATE DATABASE ${dbName}; CREATE TABLE ${dbName}.items (id int PRIMARY KEY, bucket text, title text, n int)`,
      );
      const positions = new MemoryPositionStore();
      const source = (over: Partial<ConstructorParameters<typeof BinlogSource>[0]> = {}) =>
        new BinlogSource({
          name: "shop",
          url: `${url}${dbName}`,
          tables: undefined,
          bucketColumns: columnNamed("bucket"),
          serverId: 6000 + Math.floor(Math.random() * 1000),
          positions,
          log: silentLogger,
          ...over,
        });
      const limited = `l_${unique()}`;
      await conn.query(
        `CREATE USER '${limited}'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO '${limited}'@'%'`,
      );
      return {
        table: { db: dbName, schema: null, name: "items" },
        connector: "mysql",
        makeSource: () => source(),
        transaction: async (ops) => {
          await conn.query(`START TRANSACTION; ${
            ops.map((o) => sqlOf(o).replaceAll("items", `${dbName}.items`)).join("; ")
          }; COMMIT`);
        },
        badSources: () =>
          Promise.resolve([
            {
              what: "a table that does not exist",
              source: source({ tables: [`${dbName}.nope`] }),
              error: /nope.*does not exist/,
            },
            {
              what: "a user without replication grants",
              source: source({ url: url.replace("root@", `${limited}:pw@`) + dbName }),
              error: /REPLICATION SLAVE/,
            },
          ]),
        teardown: async () => {
          await conn.query(`DROP DATABASE ${dbName}; DROP USER '${limited}'@'%'`);
          await conn.end();
        },
      };
    },
  }));

// No MongoDB server runs on these machines: without MONGODB_URL the live contract is registered
// as ignored, and its decoding is tested on MongoDB's documented event shapes instead.
const mongoUrl = Deno.env.get("MONGODB_URL") ?? "";
if (!mongoUrl) {
  console.error(
    "\n!! IGNORED: the MongoDB live source contract needs a replica set: set MONGODB_URL to run it. " +
      "The adapter's decoding is tested on MongoDB's documented event shapes in " +
      "services/listener/mongodb/decode_test.ts\n",
  );
}
sourceContract({
  name: "mongodb",
  ignore: !mongoUrl,
  async setup() {
    const dbName = `c_${unique()}`;
    const url = mongoUrl.replace(/\/([^/?]*)(\?|$)/, `/${dbName}$2`);
    const client = new MongoClient(url);
    await client.connect();
    const db = client.db(dbName);
    await db.createCollection("items", { changeStreamPreAndPostImages: { enabled: true } });
    const positions = new MemoryPositionStore();
    const source = (over: Partial<ConstructorParameters<typeof ChangeStreamSource>[0]> = {}) =>
      new ChangeStreamSource({
        name: "mongo",
        url,
        collections: ["items"],
        bucketColumns: columnNamed("bucket"),
        positions,
        log: silentLogger,
        ...over,
      });
    return {
      table: { db: dbName, schema: null, name: "items" },
      connector: "mongodb",
      makeSource: () => source(),
      transaction: async (ops) => {
        const session = client.startSession();
        try {
          await session.withTransaction(async () => {
            const items = db.collection<{ _id: number }>("items");
            for (const o of ops) {
              if (o.op === "insert") {
                await items.insertOne({ ...o.row, _id: o.row.id }, { session });
              }
              if (o.op === "update") {
                await items.updateOne({ _id: o.id }, { $set: o.set }, { session });
              }
              if (o.op === "delete") await items.deleteOne({ _id: o.id }, { session });
            }
          });
        } finally {
          await session.endSession();
        }
      },
      badSources: () =>
        Promise.resolve([
          {
            what: "a URL without a database",
            source: source({ url: mongoUrl.replace(/\/[^/?]*(\?|$)/, "/$1") }),
            error: /database/,
          },
        ]),
      teardown: async () => {
        await db.dropDatabase();
        await client.close();
      },
    };
  },
});

function sqlOf(o: Op): string {
  const lit = (
    v: unknown,
  ) => (v === null
    ? "NULL"
    : typeof v === "number"
    ? String(v)
    : `'${String(v).replace(/'/g, "''")}'`);
  switch (o.op) {
    case "insert":
      return `INSERT INTO items (id, bucket, title, n) VALUES (${
        [o.row.id, o.row.bucket, o.row.title, o.row.n].map(lit).join(", ")
      })`;
    case "update":
      return `UPDATE items SET ${
        Object.entries(o.set).map(([k, v]) => `${k} = ${lit(v)}`).join(", ")
      } WHERE id = ${o.id}`;
    case "delete":
      return `DELETE FROM items WHERE id = ${o.id}`;
  }
}
