/**
 * deploy/ and docker-compose.yml (SPEC §12): `docker compose config` validates the file with the
 * observability profile (Compose v2 built from the Go module proxy — there is no Docker engine
 * here, and `config` needs none); every service has a healthcheck; Prometheus scrapes every
 * service where compose runs it; Grafana's provisioning points at files that exist.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { awaitComposeBinary } from "../tools/servers/compose.ts";

const root = new URL("../", import.meta.url).pathname;

interface ComposeService {
  healthcheck?: { test: string[] };
  profiles?: string[];
  ports?: { target: number; published: string }[];
  volumes?: { type: string; source: string; target: string }[];
}

Deno.test("docker compose config validates the file, observability profile included", async () => {
  const compose = await awaitComposeBinary(
    loadConfig().cacheDir,
    createLogger("test-compose", "info"),
    Deno.env.get("SYNCHUB_TEST_COMPOSE_BUILDING") === "1",
  );
  const command = (env: Record<string, string>, ...args: string[]) =>
    new Deno.Command(compose, {
      args: ["-f", `${root}docker-compose.yml`, "--profile", "observability", ...args],
      cwd: root,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
  // No public placeholder secret: without JWT_SECRET compose refuses, naming it.
  const refused = await command(
    { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/tmp" },
    "config",
    "--quiet",
  );
  assert.equal(refused.success, false);
  assert.match(new TextDecoder().decode(refused.stderr), /JWT_SECRET/);
  const run = async (...args: string[]) => {
    const out = await command(
      {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "/tmp",
        JWT_SECRET: "x".repeat(40),
      },
      ...args,
    );
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `docker compose ${args.join(" ")} failed:\n${stderr}`);
    return new TextDecoder().decode(out.stdout);
  };
  await run("config", "--quiet");
  const config = JSON.parse(await run("config", "--format", "json")) as {
    services: Record<string, ComposeService>;
  };
  const services = config.services;
  for (const name of ["prometheus", "grafana", "jaeger"]) {
    assert.deepEqual(services[name]?.profiles, ["observability"], `${name} in the profile`);
  }
  for (const [name, s] of Object.entries(services)) {
    assert.ok(s.healthcheck?.test?.length, `${name} has a healthcheck`);
  }
  // Bind mounts name files of the repository.
  for (const [name, s] of Object.entries(services)) {
    for (const v of s.volumes ?? []) {
      if (v.type === "bind") {
        await Deno.stat(v.source).catch(() => assert.fail(`${name}: ${v.source}`));
      }
    }
  }
  // Prometheus scrapes each SyncHub service on the port compose gives it.
  const prometheus = parse(await Deno.readTextFile(`${root}deploy/prometheus/prometheus.yml`)) as {
    scrape_configs: { static_configs: { targets: string[] }[] }[];
  };
  const targets = prometheus.scrape_configs.flatMap((c) =>
    c.static_configs.flatMap((s) => s.targets)
  );
  for (const name of ["crud", "listener", "gateway"]) {
    const port = services[name]!.ports![0]!.target;
    assert.ok(targets.includes(`${name}:${port}`), `Prometheus scrapes ${name}:${port}`);
  }
  // The dashboard provider reads the directory compose mounts the dashboard into.
  const provider = parse(
    await Deno.readTextFile(`${root}deploy/grafana/provisioning/dashboards/synchub.yml`),
  ) as { providers: { options: { path: string } }[] };
  const mounted = services.grafana!.volumes!.map((v) => v.target);
  assert.ok(mounted.includes(provider.providers[0]!.options.path));
});
