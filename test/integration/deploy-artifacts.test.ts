// Static checks of the deployment artifacts (Dockerfile, deploy/compose.yaml, deploy/Caddyfile,
// deploy/kubernetes/*.yaml) with the repository's own dependencies only: no Docker, no cluster, no
// network. Building the image, running compose and applying the manifests are not done here; see
// docs/deploy.md, "What was checked".
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse, parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config/load.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

type Obj = Record<string, any>;

/** Every `MODELPORT_*` name docs/configuration.md documents. */
const documentedEnv = new Set(read("docs/configuration.md").match(/MODELPORT_[A-Z0-9_]+/g) ?? []);

// ---------------------------------------------------------------- compose

/** Compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}` interpolation. */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (_m, name: string, colon: string, op: string | undefined, arg: string) => {
    const value = vars[name];
    const unset = value === undefined || (colon === ":" && value === "");
    if (op === "?" && unset) throw new Error(`compose would stop: ${name} is required (${arg})`);
    if (op === "-" && unset) return arg;
    return value ?? "";
  });
}

const composeText = read("deploy/compose.yaml");
const compose = parse(composeText, { merge: true }) as Obj;
const dotenv: Record<string, string> = Object.fromEntries(
  read("deploy/.env.example")
    .split("\n")
    .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
);
const secrets = { POSTGRES_PASSWORD: "pg-secret", MODELPORT_ADMIN_KEY: "sk-admin-0123456789abcdef", MODELPORT_API_KEYS: "sk-test-1,sk-test-2", MODELPORT_METRICS_TOKEN: "metrics-0123456789abcdef" };
const REPLICAS = ["modelport-1", "modelport-2"];

function replicaEnv(service: string, vars: Record<string, string> = { ...dotenv, ...secrets }): Record<string, string> {
  const env = compose.services[service].environment as Record<string, string | number>;
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(String(v), vars)]));
}

describe("deploy/compose.yaml", () => {
  it("is valid against the Compose Specification's JSON Schema", () => {
    const schema = JSON.parse(read("deploy/schema/compose-spec.json")) as Obj;
    delete schema.$schema; // draft-07, under an https URI Ajv does not know by that name
    const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
    (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
    const validate = ajv.compile(schema);
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 1));
  });

  it("has two Modelport replicas, PostgreSQL, Redis, a proxy, and MinIO only behind a profile", () => {
    for (const name of [...REPLICAS, "postgres", "redis", "proxy", "model-pull", "minio"]) assert.ok(compose.services[name], `service ${name}`);
    assert.deepEqual(compose.services.minio.profiles, ["blob-store"], "MinIO is not used yet: it must not start by default");
    for (const name of ["models", "data", "postgres-data"]) assert.ok(name in compose.volumes, `volume ${name}`);
  });

  it("points both replicas at PostgreSQL and Redis, and mounts one shared data volume", () => {
    for (const name of REPLICAS) {
      const env = replicaEnv(name);
      assert.equal(new URL(env.MODELPORT_DATABASE_URL!).hostname, "postgres", name);
      assert.equal(new URL(env.MODELPORT_DATABASE_URL!).password, secrets.POSTGRES_PASSWORD);
      assert.equal(new URL(env.MODELPORT_REDIS_URL!).hostname, "redis", name);
      const volumes = compose.services[name].volumes as string[];
      assert.ok(volumes.includes("data:/data"), `${name} mounts the shared data volume`);
      assert.ok(volumes.includes("models:/models:ro"), `${name} mounts the models read-only`);
      assert.equal(env.MODELPORT_DATA_DIR, "/data");
      assert.equal(env.MODELPORT_MODELS_DIR, "/models");
      assert.equal(env.MODELPORT_AUTO_PULL, "false", "replicas never download into the shared volume");
      for (const dep of ["postgres", "redis"]) assert.equal(compose.services[name].depends_on[dep].condition, "service_healthy");
      assert.equal(compose.services[name].depends_on["model-pull"].condition, "service_completed_successfully");
    }
    assert.ok((compose.services["model-pull"].volumes as string[]).includes("models:/models"));
  });

  it("has healthchecks: replicas on /ready, PostgreSQL, Redis", () => {
    for (const name of REPLICAS) {
      const test = (compose.services[name].healthcheck.test as string[]).join(" ");
      assert.match(test, /path:'\/ready'/);
      assert.match(test, new RegExp(`port:${replicaEnv(name).MODELPORT_PORT}\\b`));
    }
    assert.match(compose.services.postgres.healthcheck.test.join(" "), /pg_isready/);
    assert.match(compose.services.redis.healthcheck.test.join(" "), /redis-cli ping/);
  });

  it("gives a replica longer to stop than its drain timeout", () => {
    for (const name of REPLICAS) {
      const grace = /^(\d+)s$/.exec(compose.services[name].stop_grace_period as string);
      assert.ok(grace, "stop_grace_period in seconds");
      assert.ok(Number(grace[1]) * 1000 > Number(replicaEnv(name).MODELPORT_SHUTDOWN_TIMEOUT_MS), "stop_grace_period > MODELPORT_SHUTDOWN_TIMEOUT_MS");
    }
  });

  it("uses only documented MODELPORT_* settings, and every variable it needs is in .env.example", () => {
    for (const name of REPLICAS) {
      for (const key of Object.keys(compose.services[name].environment as object)) {
        if (key.startsWith("MODELPORT_")) assert.ok(documentedEnv.has(key), `${key} is not in docs/configuration.md`);
      }
    }
    for (const match of composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) assert.ok(match[1]! in dotenv, `${match[1]} is not in deploy/.env.example`);
    assert.throws(() => interpolate(composeText, {}), /POSTGRES_PASSWORD is required/, "secrets have no silent defaults");
  });

  it("loads through Modelport's own config loader", () => {
    const config = loadConfig(replicaEnv("modelport-1"));
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.port, 8080);
    assert.deepEqual(config.apiKeys, ["sk-test-1", "sk-test-2"]);
    assert.equal(config.metrics.token, secrets.MODELPORT_METRICS_TOKEN);
    assert.equal(config.pull.autoPull, false);
    // The placeholders of .env.example, as they are, are values the server accepts.
    assert.equal(loadConfig(replicaEnv("modelport-1", dotenv)).adminKey, dotenv.MODELPORT_ADMIN_KEY);
  });

  it("has a Caddyfile that balances over both replicas and health-checks /ready", () => {
    const caddyfile = read("deploy/Caddyfile");
    assert.ok((compose.services.proxy.volumes as string[]).includes("./Caddyfile:/etc/caddy/Caddyfile:ro"));
    const upstreams = /reverse_proxy\s+([^{]+)\{/.exec(caddyfile)?.[1]!.trim().split(/\s+/);
    assert.deepEqual(upstreams, REPLICAS.map((name) => `${name}:${replicaEnv(name).MODELPORT_PORT}`));
    assert.match(caddyfile, /^\s*health_uri \/ready$/m);
    assert.match(caddyfile, /^\s*flush_interval -1$/m, "streams are not buffered");
    assert.match(caddyfile, /@metrics path \/metrics\s+respond @metrics 404/, "metrics are not public");
  });
});

// ---------------------------------------------------------------- Kubernetes

const K8S = "deploy/kubernetes";
const manifests: Obj[] = readdirSync(join(ROOT, K8S))
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) =>
    parseAllDocuments(read(`${K8S}/${f}`)).map((doc) => {
      assert.deepEqual(doc.errors, [], `${f} parses`);
      return { ...(doc.toJS() as Obj), __file: f };
    }),
  );
const one = (kind: string): Obj => {
  const found = manifests.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};
const deployment = one("Deployment");
const pod = deployment.spec.template;
const container = (pod.spec.containers as Obj[])[0]!;
const containerPort = (name: string | number): number => (typeof name === "number" ? name : (container.ports as Obj[]).find((p) => p.name === name)!.containerPort);
const envValue = (name: string): string | undefined => (container.env as Obj[]).find((e) => e.name === name)?.value;
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("deploy/kubernetes", () => {
  it("parses, and kustomization.yaml lists files that exist", () => {
    const kustomization = one("Kustomization");
    for (const file of kustomization.resources as string[]) assert.ok(existsSync(join(ROOT, K8S, file)), file);
    for (const m of manifests) assert.ok(typeof m.apiVersion === "string" && typeof m.kind === "string", `${m.__file}: apiVersion and kind`);
    assert.ok(!(kustomization.resources as string[]).includes("secret.example.yaml"), "placeholder secrets are never applied");
  });

  it("probes /ready for readiness and /health for liveness and startup, on the container's port", () => {
    const port = Number(envValue("MODELPORT_PORT"));
    assert.equal(container.readinessProbe.httpGet.path, "/ready");
    assert.equal(container.livenessProbe.httpGet.path, "/health");
    assert.equal(container.startupProbe.httpGet.path, "/health");
    for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) assert.equal(containerPort(container[probe].httpGet.port), port, probe);
    assert.ok(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold >= 300, "at least 5 minutes to load models");
  });

  it("lets a pod drain: terminationGracePeriodSeconds > preStop + the configured drain timeout", () => {
    const configFile = join(mkdtempSync(join(tmpdir(), "modelport-deploy-")), "config.yaml");
    writeFileSync(configFile, one("ConfigMap").data["config.yaml"] as string);
    // Literal values, and the Secret's from secret.example.yaml (whose placeholders must be accepted too).
    const secret = one("Secret").stringData as Record<string, string>;
    const env: Record<string, string> = {};
    for (const e of container.env as Obj[]) env[e.name as string] = typeof e.value === "string" ? e.value : secret[e.valueFrom.secretKeyRef.key as string]!;
    env.MODELPORT_CONFIG = configFile;
    const config = loadConfig(env);
    const preStop = container.lifecycle.preStop.exec.command as string[];
    assert.equal(preStop[0], "sleep");
    const graceMs = pod.spec.terminationGracePeriodSeconds * 1000;
    assert.ok(graceMs > config.shutdownTimeoutMs + Number(preStop[1]) * 1000, `${graceMs} ms vs drain ${config.shutdownTimeoutMs} ms + preStop ${preStop[1]} s`);
    assert.equal(config.codeInterpreter.enabled, false, "the pod's security context leaves no sandbox: the tool is off, plainly");
    assert.equal(config.pull.autoPull, false);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.metrics.token, secret["metrics-token"]);
  });

  it("has a PodDisruptionBudget and a Service that select the Deployment's pods", () => {
    const labels = pod.metadata.labels as Record<string, string>;
    assert.ok(matches(deployment.spec.selector.matchLabels, labels));
    const pdb = one("PodDisruptionBudget");
    assert.equal(pdb.apiVersion, "policy/v1");
    assert.ok(matches(pdb.spec.selector.matchLabels, labels), "PDB selects the pods");
    assert.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < deployment.spec.replicas, "minAvailable leaves room for one disruption");
    const service = one("Service");
    assert.ok(matches(service.spec.selector, labels), "Service selects the pods");
    assert.equal(containerPort(service.spec.ports[0].targetPort), Number(envValue("MODELPORT_PORT")));
    assert.ok(deployment.spec.replicas >= 2);
  });

  it("carries Prometheus scrape annotations, and the metrics token from a Secret", () => {
    const a = pod.metadata.annotations as Record<string, string>;
    assert.equal(a["prometheus.io/scrape"], "true");
    assert.equal(Number(a["prometheus.io/port"]), Number(envValue("MODELPORT_PORT")));
    assert.equal(a["prometheus.io/path"], "/metrics");
    const token = (container.env as Obj[]).find((e) => e.name === "MODELPORT_METRICS_TOKEN");
    assert.ok(token?.valueFrom?.secretKeyRef, "MODELPORT_METRICS_TOKEN comes from a Secret");
  });

  it("uses only documented settings; every secret key it reads is in secret.example.yaml", () => {
    for (const e of container.env as Obj[]) assert.ok(documentedEnv.has(e.name), `${e.name} is not in docs/configuration.md`);
    const secret = one("Secret");
    for (const e of container.env as Obj[]) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        assert.equal(ref.name, secret.metadata.name);
        assert.ok(ref.key in secret.stringData, `${ref.key} in secret.example.yaml`);
      }
    }
  });

  it("runs as the image's non-root user, with models from the pull Job's volume", () => {
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    const uid = /useradd[^\n]*--uid (\d+)/.exec(read("Dockerfile"))?.[1];
    assert.equal(pod.spec.securityContext.runAsUser, Number(uid));
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    const job = one("Job");
    const claim = (spec: Obj, mountPath: string): string => {
      const mount = (spec.containers[0].volumeMounts as Obj[]).find((m) => m.mountPath === mountPath)!;
      return (spec.volumes as Obj[]).find((v) => v.name === mount.name)!.persistentVolumeClaim.claimName;
    };
    assert.equal(claim(job.spec.template.spec, "/models"), claim(pod.spec, "/models"));
    assert.equal(job.spec.template.spec.containers[0].image, container.image);
    const pvcs = manifests.filter((m) => m.kind === "PersistentVolumeClaim");
    for (const name of [claim(pod.spec, "/models"), claim(pod.spec, "/data")]) {
      assert.deepEqual(pvcs.find((p) => p.metadata.name === name)?.spec.accessModes, ["ReadWriteMany"], `${name} is shared by every replica`);
    }
  });
});

// ---------------------------------------------------------------- Dockerfile

describe("Dockerfile", () => {
  const text = read("Dockerfile").replace(/\\\n/g, " ");
  const lines = text.split("\n").filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"));
  const args = Object.fromEntries(lines.filter((l) => /^ARG \w+=/.test(l)).map((l) => l.slice(4).split("=") as [string, string]));
  const stages = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith("FROM "));
  const finalStage = lines.slice(stages.at(-1)![1]);

  it("builds every stage FROM node:24", () => {
    assert.ok(stages.length >= 2, "multi-stage");
    for (const [line] of stages) {
      const image = line.split(/\s+/)[1]!.replace(/^\$\{(\w+)\}$/, (_m, name: string) => args[name] ?? "");
      assert.match(image, /^node:24(-|$)/, line);
    }
  });

  it("runs as a non-root user, with a HEALTHCHECK on /ready and volumes for models and data", () => {
    const user = finalStage.filter((l) => l.startsWith("USER ")).at(-1);
    assert.ok(user, "USER in the final stage");
    assert.doesNotMatch(user, /^USER\s+(root|0)(:|\s|$)/);
    const healthcheck = finalStage.find((l) => l.startsWith("HEALTHCHECK "));
    assert.ok(healthcheck);
    assert.match(healthcheck, /path:'\/ready'/);
    const volume = finalStage.find((l) => l.startsWith("VOLUME "));
    assert.deepEqual(JSON.parse(volume!.slice(7)), ["/models", "/data"]);
    assert.match(text, /MODELPORT_MODELS_DIR=\/models/);
    assert.match(text, /MODELPORT_DATA_DIR=\/data/);
    assert.match(text, /EXPOSE 8080/);
  });

  it("installs the Debian packages scripts/bootstrap.sh installs for serving", () => {
    const bootstrap = read("scripts/bootstrap.sh");
    const wanted = [...bootstrap.matchAll(/^AUDIO_PACKAGES="(?:\$AUDIO_PACKAGES )?([^"$]+)"/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    assert.ok(wanted.includes("bubblewrap") && wanted.includes("ffmpeg"));
    const install = finalStage.find((l) => l.includes("apt-get install"))!;
    for (const pkg of wanted) assert.match(install, new RegExp(`\\s${pkg.replace(/[.+]/g, "\\$&")}(\\s|$)`), pkg);
  });

  it("is documented in docs/deploy.md, which README links", () => {
    const deploy = read("docs/deploy.md");
    for (const path of ["Dockerfile", "deploy/compose.yaml", "deploy/kubernetes"]) assert.ok(deploy.includes(path), path);
    assert.match(read("README.md"), /\(docs\/deploy\.md\)/);
  });
});
