/**
 * SPEC §12 traces: the three services as separate processes with Deno's built-in OpenTelemetry
 * exporter (`OTEL_DENO=true`) sending OTLP/HTTP JSON to a small receiver here. One REST write is
 * followed through PostgreSQL's WAL (a transactional logical decoding message), Kafka (record
 * headers) and the gateway to a WebSocket client: one trace, spans from crud, listener, gateway.
 */
import assert from "node:assert/strict";
import { signToken } from "../lib/jwt.ts";
import { freePort, sharedBrokers } from "./support/kafka.ts";
import { testDatabase } from "./support/postgres.ts";
import { waitFor } from "./support/wait.ts";
import { TestClient } from "./support/ws_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const JWT_SECRET = "tracing-test-secret-tracing-test-secret-42";

interface ExportedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

type Attribute = { key: string; value: { stringValue?: string } };
type OtlpTraces = {
  resourceSpans?: {
    resource?: { attributes?: Attribute[] };
    scopeSpans?: { spans?: Omit<ExportedSpan, "service">[] }[];
  }[];
};

/** An OTLP/HTTP JSON receiver keeping every span it is sent. */
function otlpReceiver() {
  const spans: ExportedSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json().catch(() => ({}));
    if (new URL(req.url).pathname === "/v1/traces") {
      for (const rs of (body as OtlpTraces).resourceSpans ?? []) {
        const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value
          .stringValue ?? "";
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) spans.push({ ...s, service });
        }
      }
    }
    return Response.json({});
  });
  return { spans, url: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

Deno.test(
  "one REST write is one trace through crud, the WAL, Kafka and the gateway",
  opts,
  async () => {
    const brokers = await sharedBrokers();
    const db = await testDatabase();
    const receiver = otlpReceiver();
    const ports = { crud: freePort(), listener: freePort(), gateway: freePort() };
    const common = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC_PREFIX: `tr${crypto.randomUUID().replace(/-/g, "").slice(0, 8)}`,
      REPLICATION_SLOT: `s_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`,
      JWT_SECRET,
      LOG_LEVEL: "warn",
      CRUD_PORT: String(ports.crud),
      LISTENER_PORT: String(ports.listener),
      GATEWAY_PORT: String(ports.gateway),
      LISTENER_URL: `http://127.0.0.1:${ports.listener}`,
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    };
    const services = (["listener", "gateway", "crud"] as const).map((name) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL(`../services/${name}/main.ts`, import.meta.url).pathname],
        env: { ...common, OTEL_SERVICE_NAME: `synchub-${name}` },
        stdin: "null",
        stdout: "null",
        stderr: "inherit",
      }).spawn()
    );
    let client: TestClient | undefined;
    try {
      for (const [name, port] of Object.entries(ports)) {
        await waitFor(
          () =>
            fetch(`http://127.0.0.1:${port}/ready`).then(
              (r) => (r.body?.cancel(), r.ok),
              () => false,
            ),
          `the ${name} to be ready`,
          90_000,
        );
      }
      const token = await signToken(JWT_SECRET, { sub: "tracer", buckets: ["a"] });
      client = await TestClient.connect(`ws://127.0.0.1:${ports.gateway}/v1/ws`, token);
      await client.subscribe("public.todos");
      const res = await fetch(`http://127.0.0.1:${ports.crud}/v1/tables/todos/rows`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ title: "traced", bucket: "a" }),
      });
      assert.equal(res.status, 201);
      await res.body?.cancel();
      const [change] = await client.changes(1);
      assert.equal(change!.change.after.title, "traced");

      // Each process exports in batches of its own: wait for every span of the chain to arrive,
      // following parents from the gateway's span back to the REST request's.
      const deliver = await waitFor(
        () => receiver.spans.find((s) => s.name === "gateway.deliver"),
        "the gateway's span",
        60_000,
      );
      const arrived = (id: string, what: string) =>
        waitFor(() => id !== "" && receiver.spans.find((s) => s.spanId === id), what, 60_000);
      assert.ok(deliver.parentSpanId, "the gateway's span has a parent");
      const publish = await arrived(deliver.parentSpanId, "the gateway's parent span");
      assert.equal(publish.name, "listener.publish", "the gateway continues the listener's span");
      assert.equal(publish.service, "synchub-listener");
      assert.equal(deliver.service, "synchub-gateway");
      assert.ok(publish.parentSpanId, "the listener's span has a parent");
      const write = await arrived(publish.parentSpanId, "the listener's parent span");
      assert.equal(
        write.name,
        "crud.write",
        "the listener continues the write's span, from the WAL",
      );
      assert.equal(write.service, "synchub-crud");
      // The write hangs under the HTTP request span Deno made for the REST call.
      assert.ok(write.parentSpanId, "the write's span has a parent");
      const request = await arrived(write.parentSpanId, "the write's parent span");
      assert.equal(request.service, "synchub-crud");
      const trace = receiver.spans.filter((s) => s.traceId === deliver.traceId);
      assert.deepEqual(
        [...new Set(trace.map((s) => s.service))].sort(),
        ["synchub-crud", "synchub-gateway", "synchub-listener"],
      );
    } finally {
      await client?.close();
      for (const s of services) s.kill("SIGTERM");
      await Promise.all(services.map((s) => s.status));
      await receiver.stop();
      await db.drop();
    }
  },
);
