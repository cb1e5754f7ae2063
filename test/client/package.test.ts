// @enigma/registry-client as its users get it: `npm pack` in client/, the
// tarball installed into a fresh project outside the repository, the README's
// quick start run there with plain node against a live registry process, the
// installed `enigma-registry` bin, the installed .d.ts files, and a browser
// bundle of the installed package (esbuild) that must hold no node: module.
// The README's "Verified resolves" example runs too, as printed in the
// installed README with only the operator's values filled in: against a
// registry process with its transparency log on and a witness quorum of 1,
// the witness being the installed bin's `enigma-registry witness` (its key
// from `enigma-registry witness keygen`).
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, createIdentity, createRegistryClient, identityToJson, userIdFromUsername } from "../../client/src/index.js";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { verifyNote } from "../../client/src/wire/transparency/note.js";
import { keygenTransparencyToml } from "../../src/config/keygenTransparency.js";
import { type Cli, startCli, writeConfig } from "../helpers/cli.js";
import { KID, PEPPER, REGISTRY_PUBLIC, testToml } from "../helpers/registry.js";
import { logKeysOf } from "../transparency/verify.js";

const CLIENT_DIR = fileURLToPath(new URL("../../client/", import.meta.url));
const PEPPER_HEX = PEPPER.toString("hex");
const PACKAGE = "@enigma/registry-client";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a child process: ours without npm's own variables (set
 * when the tests run under `npm test`, they would steer a nested npm) and
 * without the CLI's, so every run says what it uses.
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== "ENIGMA_REGISTRY_URL" && k !== "ENIGMA_PEPPER") env[k] = v;
  }
  // The bin starts with `#!/usr/bin/env node`: the node running these tests.
  env["PATH"] = `${path.dirname(process.execPath)}${path.delimiter}${process.env["PATH"] ?? ""}`;
  return { ...env, ...extra };
}

/** Runs a command to completion without blocking the event loop (the registry's pipes keep draining). */
function run(command: string, args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: childEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.once("error", reject);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function ok(r: Run, what: string): Run {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

/** The README's `<!-- example:NAME -->` js block. */
function readmeExample(readme: string, name: string): string {
  const blocks = [...readme.matchAll(new RegExp(`<!-- example:${name} -->\n\`\`\`js\n([\\s\\S]*?)\`\`\`\n<!-- /example -->`, "g"))];
  expect(blocks, `README example ${name}`).toHaveLength(1);
  return blocks[0]![1]!;
}

/** `text` with each placeholder replaced; each must occur exactly once (the README and the test stay in step). */
function fillIn(text: string, values: Record<string, string>): string {
  let out = text;
  for (const [placeholder, value] of Object.entries(values)) {
    expect(out.split(placeholder).length - 1, `${JSON.stringify(placeholder)} in the example`).toBe(1);
    out = out.replace(placeholder, () => value);
  }
  return out;
}

interface Witness {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** The installed `enigma-registry witness ARGS --listen 127.0.0.1:0`; resolves with its URL once it listens. */
async function startWitness(bin: string, cwd: string, args: string[]): Promise<Witness> {
  const child = spawn(bin, ["witness", ...args, "--listen", "127.0.0.1:0"], { cwd, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  child.stdout.on("data", (c) => (stderr += `stdout: ${c}`));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = / listening on (http:\/\/\S+),/.exec(stderr);
      if (m) resolve(m[1]!);
    };
    child.stderr.on("data", check);
    child.once("error", reject);
    void exited.then(() => reject(new Error(`the witness exited before listening:\n${stderr}`)));
    setTimeout(() => reject(new Error(`the witness did not listen within 15 s:\n${stderr}`)), 15_000).unref();
  });
  return {
    child,
    url,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Polls `url`'s published checkpoint until it holds `size` entries; returns the note. */
async function publishedCheckpoint(url: string, size: number, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/transparency/checkpoint`);
    const text = await res.text();
    if (res.status === 200 && parseCheckpoint(text.slice(0, text.indexOf("\n\n") + 1))!.size >= size) return text;
    if (Date.now() > deadline) throw new Error(`no checkpoint of ${size} entries at ${url} within ${timeoutMs} ms: ${res.status} ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("in this repository", () => {
  it("npm ci links the workspace's enigma-registry command at the top (npx enigma-registry works here)", async () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const r = ok(await run(path.join(root, "node_modules/.bin/enigma-registry"), ["--help"], { cwd: root }), "enigma-registry --help");
    expect(r.stdout).toMatch(/^usage: enigma-registry/);
  });
});

describe("README", () => {
  it("prints client/examples/quickstart.mjs byte for byte", () => {
    const readme = readFileSync(path.join(CLIENT_DIR, "README.md"), "utf8");
    const example = readFileSync(path.join(CLIENT_DIR, "examples/quickstart.mjs"), "utf8");
    const blocks = [...readme.matchAll(/<!-- example:quickstart -->\n```js\n([\s\S]*?)```\n<!-- \/example -->/g)];
    expect(blocks).toHaveLength(1);
    expect(blocks[0]![1]).toBe(example);
  });
});

describe("the packed package, installed outside the repository", () => {
  let work: string; // temp dir: the tarball and the project
  let project: string;
  let tarball: string;
  let packed: { size: number; unpackedSize: number; files: { path: string }[] };
  let registry: Cli;
  let url: string;
  let logged: Cli | undefined; // the registry with its transparency log on
  let witness: Witness | undefined;
  const bin = (): string => path.join(project, "node_modules/.bin/enigma-registry");
  const installed = (): string => path.join(project, "node_modules", PACKAGE);

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "enigma-client-pack-"));
    project = path.join(work, "project");
    // The registry starts while npm packs and installs.
    registry = startCli(["--config", writeConfig("package-test.toml", testToml())]);
    const pack = ok(await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: CLIENT_DIR, timeoutMs: 90_000 }), "npm pack");
    // prepack's output may come first: the JSON is the array at the end.
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m))) as (typeof packed & { filename: string })[];
    packed = info!;
    tarball = path.join(work, info!.filename);
    // A fresh project, as a user starts one.
    mkdirSync(project);
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "enigma-client-smoke", private: true, type: "module" }, null, 2));
    ok(
      await run("npm", ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline"], { cwd: project, timeoutMs: 90_000 }),
      "npm install",
    );
    url = await registry.listening;
  }, 180_000);

  afterAll(async () => {
    await Promise.all([registry?.stop(), logged?.stop(), witness?.stop()]);
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("holds compiled JavaScript and declarations, the README and the example, and no sources or tests", () => {
    const files = packed.files.map((f) => f.path);
    console.log(`tarball ${path.basename(tarball)}: ${packed.size} bytes packed, ${packed.unpackedSize} bytes unpacked, ${files.length} files`);
    for (const f of [
      "package.json",
      "README.md",
      "LICENSE",
      "examples/quickstart.mjs",
      "bin/enigma-registry.js",
      "dist/client/src/index.js",
      "dist/client/src/index.d.ts",
      "dist/client/src/cli.js",
      "dist/client/src/private/platform.browser.js",
      "dist/client/src/private/platform.node.js",
      "dist/gen/enigma/registry/v1/registry_pb.js",
      "dist/gen/enigma/registry/v1/registry_pb.d.ts",
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|tests|__tests__)\/|\.test\.|\.spec\./.test(f))).toEqual([]);
    expect(files.filter((f) => !/^(package\.json|README\.md|LICENSE|examples\/[^/]+\.mjs|bin\/enigma-registry\.js|dist\/(client\/src|gen)\/.+\.(js|d\.ts))$/.test(f))).toEqual([]);
    // Every compiled .js has its .d.ts (the CLI's is there too, harmless); bin/ is the launcher.
    const js = files.filter((f) => f.startsWith("dist/") && f.endsWith(".js"));
    expect(js.filter((f) => !files.includes(f.replace(/\.js$/, ".d.ts")))).toEqual([]);
  });

  it("runs the quick start with plain node: it registers a fresh identity and resolves it", async () => {
    copyFileSync(path.join(installed(), "examples/quickstart.mjs"), path.join(project, "quickstart.mjs"));
    const r = ok(
      await run(process.execPath, ["quickstart.mjs"], {
        cwd: project,
        env: { ENIGMA_REGISTRY_URL: url, ENIGMA_PEPPER: PEPPER_HEX },
        timeoutMs: 30_000,
      }),
      "node quickstart.mjs",
    );
    const username = /^registered (quickstart-[0-9a-f]{8})$/m.exec(r.stdout)?.[1];
    expect(username, r.stdout).toBeDefined();
    expect(r.stdout).toContain(`user id    ${bytesToHex(userIdFromUsername(username!))}\n`);
    expect(r.stdout).toContain(`resolved   ${username}\n`);
    expect(r.stdout).toContain("same identity: true\n");
    // The registry holds it: asked through the installed CLI.
    const check = ok(await run(bin(), ["--url", url, "check", username!], { cwd: project }), "check");
    expect(check.stdout).toBe("true\n");
  }, 30_000);

  it("runs the README's verified resolve against a registry with its log on and a real witness (quorum 1)", async () => {
    // The operator's values: the log's keys from keygen transparency, the witness's from witness keygen.
    const ORIGIN = "registry.example/log";
    const WITNESS = "witness.example/w1";
    const block = keygenTransparencyToml(ORIGIN);
    const keys = logKeysOf(block, ORIGIN);
    const keygen = ok(await run(bin(), ["witness", "keygen", WITNESS], { cwd: project }), "witness keygen");
    const [, witnessVkey] = keygen.stdout.split("\n");
    expect(witnessVkey).toMatch(/^witness\.example\/w1\+[0-9a-f]{8}\+/);
    const keyFile = path.join(work, "witness.key");
    writeFileSync(keyFile, keygen.stdout, { mode: 0o600 });
    witness = await startWitness(bin(), project, ["--key", keyFile, "--log", `${ORIGIN}=${keys.logVkey}`, "--state", path.join(work, "witness-state")]);
    const toml =
      testToml() +
      "\n" +
      block.replace(/^integrate_interval_ms = \d+/m, "integrate_interval_ms = 50").replace(/^witness_quorum = \d+/m, "witness_quorum = 1") +
      `witnesses = [{ name = "${WITNESS}", vkey = "${witnessVkey}", url = "${witness.url}" }]\n`;
    logged = startCli(["--config", writeConfig("package-test-log.toml", toml)]);
    const logUrl = await logged.listening;

    // bob, registered by someone else.
    const registrar = createRegistryClient({ baseUrl: logUrl, pepper: PEPPER_HEX });
    const bob = createIdentity({
      username: "bob",
      signingPublicKey: crypto.getRandomValues(new Uint8Array(32)),
      encryptionPublicKey: crypto.getRandomValues(new Uint8Array(32)),
      signature: crypto.getRandomValues(new Uint8Array(64)),
    });
    await registrar.register(bob);
    await registrar.close();
    const published = await publishedCheckpoint(logUrl, 1);
    expect(verifyNote(published, [keys.logVkey, witnessVkey!]).verified.map((s) => s.name)).toEqual([ORIGIN, WITNESS]);

    // The example as the installed README prints it, with the operator's values in place of the placeholders.
    const example = readmeExample(readFileSync(path.join(installed(), "README.md"), "utf8"), "verified-resolve");
    const program = (witnessKey: string): string =>
      fillIn(example, {
        '"https://registry.example"': JSON.stringify(logUrl),
        '"registry.example/log+<8 hex>+<base64>"': JSON.stringify(keys.logVkey),
        '"<64 hex>"': JSON.stringify(keys.vrfPublicHex),
        '"witness.example/w1+<8 hex>+<base64>"': JSON.stringify(witnessKey),
      });
    writeFileSync(path.join(project, "verified.mjs"), program(witnessVkey!));
    const r = ok(
      await run(process.execPath, ["verified.mjs"], { cwd: project, env: { ENIGMA_PEPPER: PEPPER_HEX }, timeoutMs: 30_000 }),
      "node verified.mjs",
    );
    expect(r.stdout).toBe(`bob's signing key: ${bytesToHex(bob.signingPublicKey)}\nbob: entry 0 of 1, cosigned by ${WITNESS}\n`);
    // The checkpoint it verified, kept where the example said, cosigned by the witness.
    const kept = readFileSync(path.join(project, "registry-log.checkpoint"), "utf8");
    expect(verifyNote(kept, [keys.logVkey, witnessVkey!]).verified.map((s) => s.name)).toEqual([ORIGIN, WITNESS]);
    expect(parseCheckpoint(kept.slice(0, kept.indexOf("\n\n") + 1))!.size).toBe(1);
    expect(witness.stderr()).toMatch(/ 200 POST \/add-checkpoint origin="registry\.example\/log" old=\d+ size=1 cosigned/);

    // Pinned to another witness's key (same name), the same registry fails verification: the pins are checked.
    const other = ok(await run(bin(), ["witness", "keygen", WITNESS], { cwd: project }), "witness keygen").stdout.split("\n")[1]!;
    rmSync(path.join(project, "registry-log.checkpoint"));
    writeFileSync(path.join(project, "verified-other.mjs"), program(other));
    const refused = await run(process.execPath, ["verified-other.mjs"], { cwd: project, env: { ENIGMA_PEPPER: PEPPER_HEX }, timeoutMs: 30_000 });
    expect(refused.status).not.toBe(0);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/VERIFICATION_FAILED/);
    expect(refused.stderr).toMatch(/QUORUM_NOT_MET/);
    expect(existsSync(path.join(project, "registry-log.checkpoint"))).toBe(false);
  }, 60_000);

  it("runs the installed enigma-registry bin: keys, check, register, resolve, nodes, --json, exit codes", async () => {
    const cli = async (args: string[], env?: Record<string, string>): Promise<Run> =>
      run(bin(), args, { cwd: project, timeoutMs: 20_000, ...(env === undefined ? {} : { env }) });
    const common = ["--url", url, "--pepper", PEPPER_HEX];

    const keys = await cli([...common, "keys"]);
    expect(keys).toEqual({ status: 0, stdout: `${KID} ${REGISTRY_PUBLIC} active\n`, stderr: "" });
    expect(await cli([...common, "check", "alice"])).toEqual({ status: 0, stdout: "false\n", stderr: "" });

    const alice = createIdentity({
      username: "alice",
      signingPublicKey: new Uint8Array(32).fill(1),
      encryptionPublicKey: new Uint8Array(32).fill(2),
      signature: new Uint8Array(64).fill(3),
      createdAtMs: 1_764_000_000_000,
    });
    writeFileSync(path.join(project, "alice.json"), identityToJson(alice));
    expect(await cli([...common, "register", "alice.json"])).toEqual({ status: 0, stdout: "ok\n", stderr: "" });
    expect(await cli([...common, "check", "alice"])).toEqual({ status: 0, stdout: "true\n", stderr: "" });
    // URL and pepper from the environment this time.
    const resolved = await cli(["resolve", "alice"], { ENIGMA_REGISTRY_URL: url, ENIGMA_PEPPER: PEPPER_HEX });
    expect(resolved).toEqual({ status: 0, stdout: `${identityToJson(alice)}\n`, stderr: "" });

    expect(await cli([...common, "nodes", "add", "http://node-a.example:9000"])).toEqual({ status: 0, stdout: "the registry added 1 of 1 node URL\n", stderr: "" });
    // --version finds the installed package's own package.json.
    const version = (JSON.parse(readFileSync(new URL("../../client/package.json", import.meta.url), "utf8")) as { version: string }).version;
    expect(await cli(["--version"])).toEqual({ status: 0, stdout: `${version}\n`, stderr: "" });
    const nodes = ok(await cli([...common, "--json", "nodes"]), "--json nodes");
    expect(JSON.parse(nodes.stdout)).toEqual({ nodes: [{ base_url: "http://node-a.example:9000" }] });
    const jsonKeys = ok(await cli([...common, "--json", "keys"]), "--json keys");
    expect(JSON.parse(jsonKeys.stdout)).toEqual([{ kid_hex: KID, x25519_public_key_hex: REGISTRY_PUBLIC, active: true }]);

    // A usage error exits 64; a failed call exits 1 with the code on stderr.
    const usage = await cli(["--url", url, "--pepper", "not-hex", "keys"]);
    expect(usage.status).toBe(64);
    expect(usage.stderr).toMatch(/pepper/);
    const refused = await cli(["--url", "http://127.0.0.1:1", "--timeout", "1000", "keys"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^error: NETWORK: /);
  }, 60_000);

  it("type-checks a program against the installed declarations", async () => {
    writeFileSync(
      path.join(project, "check.ts"),
      `import { type PublicIdentity, type RegistryClient, RegistryClientError, createRegistryClient, userIdFromUsername } from "${PACKAGE}";
const client: RegistryClient = createRegistryClient({ baseUrl: "http://127.0.0.1:8443", protocol: "grpc-web", retry: { maxAttempts: 2 } });
export const found: PublicIdentity | null = await client.resolve(userIdFromUsername("alice"));
export const code: string = new RegistryClientError("NETWORK", "down").code;
// @ts-expect-error: not a protocol
createRegistryClient({ baseUrl: "http://127.0.0.1:8443", protocol: "http3" });
// @ts-expect-error: a handle is hex or bytes
await client.resolve(42);
`,
    );
    const require = createRequire(import.meta.url);
    const tsc = path.join(path.dirname(require.resolve("typescript/package.json")), (require("typescript/package.json") as { bin: { tsc: string } }).bin.tsc);
    // No @types/node in the project and no skipLibCheck: the declarations stand on their own.
    const flags = ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--lib", "es2022,dom", "--types", ""];
    const r = await run(process.execPath, [tsc, ...flags, "check.ts"], { cwd: project, timeoutMs: 30_000 });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 30_000);

  it("bundles for the browser (esbuild) without a node: module, small enough", async () => {
    writeFileSync(path.join(project, "everything.mjs"), `export * from "${PACKAGE}";\n`);
    writeFileSync(
      path.join(project, "page.mjs"),
      `import { createRegistryClient, userIdFromUsername } from "${PACKAGE}";
const client = createRegistryClient({ baseUrl: location.origin, protocol: "grpc-web" });
document.body.textContent = String(await client.checkUser(userIdFromUsername("alice")));
await client.close();
`,
    );
    for (const entry of ["everything.mjs", "page.mjs"]) {
      const result = await build({
        absWorkingDir: project,
        entryPoints: [entry],
        bundle: true,
        platform: "browser",
        format: "esm",
        minify: true,
        write: false,
        metafile: true,
        logLevel: "silent",
      });
      expect(result.errors).toEqual([]);
      const inputs = Object.keys(result.metafile.inputs);
      // The installed package itself, not the repository's sources.
      expect(inputs.some((i) => i.startsWith(`node_modules/${PACKAGE}/dist/client/src/private/platform.browser.js`))).toBe(true);
      expect(inputs.filter((i) => /(^|\/)node:|connect-node|platform\.node/.test(i))).toEqual([]);
      const output = result.outputFiles[0]!.contents;
      const code = new TextDecoder().decode(output);
      expect(code).not.toMatch(/["'`]node:/);
      expect(code).not.toMatch(/\brequire\(/);
      const gzipped = gzipSync(output).length;
      console.log(`browser bundle of ${entry}: ${output.length} bytes minified, ${gzipped} bytes gzipped`);
      expect(gzipped).toBeLessThan(80 * 1024);
    }
  }, 60_000);
});
