// The deployment files agree with the registry and with each other: the
// configs they ship parse (once given keys), the grace periods cover the
// drain, probes and ports name what the server serves, and the Kubernetes
// objects select each other (the PodMonitor included). (The image and compose files are also run for
// real by `npm run test:image`; the Kubernetes manifests are not applied
// anywhere in this repository's tests, so these checks are what holds them.)
import { readFileSync } from "node:fs";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../src/config/config.js";
import { keygenToml } from "../src/config/generate.js";

const ROOT = new URL("../", import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ROOT), "utf8");
const DRAIN_SECONDS = parseConfig(`mode = "http"\n${keygenToml()}`).limits.drainSeconds;

/** Seconds in a compose duration such as "15s". */
function seconds(duration: string): number {
  const m = /^(\d+)s$/.exec(duration);
  if (m === null) throw new Error(`unexpected duration ${duration}`);
  return Number(m[1]);
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("Containerfile", () => {
  const file = read("Containerfile");
  it("runs the compiled build as uid 1000, with the config mounted at the path its CMD names", () => {
    expect(file).toMatch(/^ARG BASE=/m);
    expect(file).toMatch(/^USER 1000:1000$/m);
    expect(file).toMatch(/^ENTRYPOINT \["node", "--max-semi-space-size=32", "dist\/src\/main.js"\]$/m);
    expect(file).toMatch(/^CMD \["--config", "\/etc\/enigma-registry\/registry.toml"\]$/m);
    expect(file).toMatch(/^HEALTHCHECK /m);
    // No config or key is copied in.
    expect(file).not.toMatch(/^COPY .*\.(toml|pem|key)/m);
  });
});

describe("deploy/compose", () => {
  const compose = parseYaml(read("deploy/compose/compose.yaml")) as Obj;
  it("gives each replica more than the drain time to stop, and runs it under an init", () => {
    for (const name of ["registry1", "registry2"]) {
      const service = compose.services[name] as Obj;
      expect(seconds(service.stop_grace_period)).toBeGreaterThan(DRAIN_SECONDS);
      expect(service.init).toBe(true);
      expect(service.volumes).toContain("./registry.toml:/etc/enigma-registry/registry.toml:ro");
    }
  });

  it("ships a replica config that starts once keygen's [envelope] is appended, and not before", () => {
    const example = read("deploy/compose/registry.example.toml");
    expect(() => parseConfig(example)).toThrow(ConfigError);
    const config = parseConfig(example + keygenToml());
    expect(config.storage.kind).toBe("redis");
    expect(config.address).toEqual({ host: "0.0.0.0", port: 8443 });
    // The balancer's backends are the compose services on that port.
    expect(read("deploy/compose/haproxy.cfg")).toMatch(/server registry1 registry1:8443 proto h2/);
  });
});

describe("deploy/kubernetes", () => {
  const docs = parseAllDocuments(read("deploy/kubernetes/registry.yaml")).map((d) => d.toJS() as Obj);
  const byKind = (kind: string) => {
    const found = docs.find((d) => d.kind === kind);
    if (found === undefined) throw new Error(`no ${kind} in registry.yaml`);
    return found;
  };
  const deployment = byKind("Deployment");
  const pod = deployment.spec.template.spec as Obj;
  const container = pod.containers[0] as Obj;
  const secret = parseYaml(read("deploy/kubernetes/secret.example.yaml")) as Obj;

  it("lets a Pod finish its drain before the kubelet kills it", () => {
    const preStop = container.lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe("sleep");
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(preStop[1]) + DRAIN_SECONDS);
  });

  it("probes the paths the registry serves, on the port the config listens on", () => {
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    const config = parseConfig(
      (secret.stringData["registry.toml"] as string).replace(/\[envelope\][^]*$/, keygenToml()),
    );
    expect(container.ports[0].containerPort).toBe(config.address.port);
    expect(config.storage.kind).toBe("redis");
  });

  it("mounts the Secret where the container's --config points, readable by the image's user", () => {
    const volume = (pod.volumes as Obj[]).find((v) => v.secret !== undefined) as Obj;
    expect(volume.secret.secretName).toBe(secret.metadata.name);
    const mount = (container.volumeMounts as Obj[]).find((m) => m.name === volume.name) as Obj;
    expect(container.args).toEqual(["--config", `${mount.mountPath}/${Object.keys(secret.stringData)[0]}`]);
    expect(pod.securityContext.runAsUser).toBe(1000);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
  });

  it("has a Service and a PodDisruptionBudget that select the Deployment's Pods", () => {
    const labels = deployment.spec.template.metadata.labels as Obj;
    for (const selector of [byKind("Service").spec.selector, byKind("PodDisruptionBudget").spec.selector.matchLabels]) {
      for (const [k, v] of Object.entries(selector as Obj)) expect(labels[k]).toBe(v);
    }
    expect(byKind("PodDisruptionBudget").spec.minAvailable).toBeLessThan(deployment.spec.replicas);
  });

  it("ships a Secret example that refuses to start until its [envelope] is replaced", () => {
    expect(() => parseConfig(secret.stringData["registry.toml"] as string)).toThrow(ConfigError);
  });

  it("has a PodMonitor that scrapes /metrics on a port the Deployment's container names, of the Deployment's Pods", () => {
    const monitor = parseYaml(read("deploy/kubernetes/podmonitor.yaml")) as Obj;
    expect(monitor.kind).toBe("PodMonitor");
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
    const labels = deployment.spec.template.metadata.labels as Obj;
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels as Obj)) expect(labels[k]).toBe(v);
    // job="enigma-registry", as deploy/monitoring/alerts.yaml expects.
    expect(labels[monitor.spec.jobLabel]).toBe("enigma-registry");
    const endpoints = monitor.spec.podMetricsEndpoints as Obj[];
    expect(endpoints).toHaveLength(1);
    const endpoint = endpoints[0]!;
    expect(endpoint.path).toBe("/metrics");
    const port = (container.ports as Obj[]).find((p) => p.name === endpoint.port);
    expect(port, `no container port named ${endpoint.port}`).toBeDefined();
    // /metrics is on that port only because the shipped config has no [ops] address (which would move it).
    const config = parseConfig((secret.stringData["registry.toml"] as string).replace(/\[envelope\][^]*$/, keygenToml()));
    expect(config.ops.address).toBeNull();
    expect(port!.containerPort).toBe(config.address.port);
  });
});
