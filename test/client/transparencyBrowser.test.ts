// Verified resolves in a real browser: Debian's chromium (/usr/bin/chromium)
// driven by playwright-core, as test/browser.test.ts does. The page's script
// (test/fixtures/transparencyPage.mjs) is bundled by esbuild for the browser
// from the package's dist/ (its "browser" field swaps in the fetch runtime),
// and resolves with the transparency option against an in-process registry
// with its log on (test/client/lyingRegistry.ts), keeping the checkpoint in
// the page's localStorage:
//   - honest resolves verify over Connect, gRPC-Web and JSON, with the
//     proof's position, size and root, and the checkpoint stored;
//   - the registry lies (another identity behind the handle, a wrong VRF
//     proof, a proof for another position): the page gets VERIFICATION_FAILED
//     with BAD_COMMITMENT, BAD_VRF_PROOF and BAD_INCLUSION_PROOF;
//   - the bundle holds no node: module and no file store; fileCheckpointStore
//     in a page is INVALID_INPUT.
// Without /usr/bin/chromium this file fails (it never skips).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, userIdFromUsername } from "../../client/src/index.js";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { encodeProofExtra, parseProofExtra } from "../../client/src/wire/transparency/entry.js";
import { parseNote, verifyNote } from "../../client/src/wire/transparency/note.js";
import { formatTlogProof } from "../../client/src/wire/transparency/tlogProof.js";
import { keygenTransparencyToml } from "../../src/config/keygenTransparency.js";
import { type Running, startRegistry } from "../helpers/registry.js";
import { logKeysOf } from "../transparency/verify.js";
import { type Lie, LyingRegistry, anotherIdentity, registerIdentity, transparencyToml, untilSize } from "./lyingRegistry.js";
import { PEPPER_HEX, uniqueName } from "./registryProcess.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLIENT_DIR = path.join(ROOT, "client");
const PAGE_ENTRY = path.join(ROOT, "test/fixtures/transparencyPage.mjs");
const BROWSER_PROTOCOLS = ["connect", "grpc-web", "json"] as const;

const ORIGIN = "registry.test/browser-log";
const BLOCK = keygenTransparencyToml(ORIGIN);
const KEYS = logKeysOf(BLOCK, ORIGIN);
const PINNED = { origin: ORIGIN, logKey: KEYS.logVkey, vrfPublicKey: KEYS.vrfPublicHex };
const NAMES = { alice: uniqueName("alice"), bob: uniqueName("bob"), twin: uniqueName("twin") };

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((name) => newestMtime(path.join(p, name))));
}

/** client/dist, rebuilt when a source is newer (as test/browser.test.ts does). */
function ensureFreshDist(): void {
  const built = path.join(CLIENT_DIR, "dist/client/src/index.js");
  const sources = Math.max(newestMtime(path.join(CLIENT_DIR, "src")), newestMtime(path.join(ROOT, "gen")), newestMtime(path.join(CLIENT_DIR, "tsconfig.json")));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const r = spawnSync(process.execPath, [path.join(CLIENT_DIR, "scripts/build.mjs")], { cwd: CLIENT_DIR, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`client build failed:\n${r.stdout}\n${r.stderr}`);
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>verified resolves in a page</title></head>
<body><p>Script: <span id="state">loading</span></p><ul id="results"></ul>
<script type="module" src="/page.js"></script></body></html>
`;

interface PageServer {
  readonly origin: string;
  close(): Promise<void>;
}

async function startPageServer(script: Uint8Array): Promise<PageServer> {
  const server = http.createServer((req, res) => {
    const [status, type, body] =
      req.url === "/" ? [200, "text/html; charset=utf-8", PAGE]
      : req.url === "/page.js" ? [200, "text/javascript; charset=utf-8", script]
      : [404, "text/plain", "not found"];
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Outcome =
  | { ok: true; identity: string | null; proof: { leafIndex: number; treeSize: number; rootHash: string; cosigners: string[] } | null; stored: string | null }
  | { ok: false; code: string; reason: string | null; message: string; stored: string | null };

function verifiedResolve(page: Page, arg: { baseUrl: string; protocol: string; username: string; storePrefix: string }): Promise<Outcome> {
  return page.evaluate(
    ({ baseUrl, protocol, handle, storePrefix, transparency, pepper }) =>
      (globalThis as unknown as { transparencyPage: { verifiedResolve(a: unknown): Promise<Outcome> } }).transparencyPage.verifiedResolve({
        baseUrl,
        pepper,
        protocol,
        handle,
        transparency,
        storePrefix,
      }),
    { ...arg, handle: bytesToHex(userIdFromUsername(arg.username)), transparency: PINNED, pepper: PEPPER_HEX },
  );
}

it(`finds Debian's chromium at ${CHROMIUM}`, () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing. Install it with \`apt-get install -y chromium\` (as root) and run the tests again.`);
  }
});

describe("verified resolves in Chromium", () => {
  let browser: Browser | undefined;
  let pages: PageServer;
  let a: Running;
  let b: Running;
  let liar: LyingRegistry;
  let page: Page;
  let sent: Record<string, string> = {};
  let inputs: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
    ensureFreshDist();
    const bundle = await build({
      absWorkingDir: ROOT,
      entryPoints: [PAGE_ENTRY],
      bundle: true,
      platform: "browser",
      format: "esm",
      minify: true,
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    inputs = Object.keys(bundle.metafile.inputs);
    pages = await startPageServer(bundle.outputFiles[0]!.contents);
    const top = `[cors]\nallowed_origins = ["${pages.origin}"]`;
    [a, b, browser] = await Promise.all([
      startRegistry(transparencyToml(BLOCK, { top })),
      startRegistry(transparencyToml(BLOCK, { top })),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
    ]);
    liar = new LyingRegistry(a);
    sent = {
      alice: await registerIdentity(a.url, NAMES.alice),
      bob: await registerIdentity(a.url, NAMES.bob),
      twin: await registerIdentity(a.url, NAMES.twin),
    };
    await registerIdentity(b.url, NAMES.twin);
    await untilSize(a, 3);
    page = await (await browser!.newContext()).newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${pages.origin}/`);
    await page.locator("#state", { hasText: "loaded" }).waitFor();
  }, 60_000);

  afterEach(() => liar?.tellTheTruth());

  afterAll(async () => {
    await browser?.close();
    await Promise.all([a?.stop(), b?.stop(), pages?.close()]);
  });

  it("bundles the client's browser runtime: no node: module, no file store; fileCheckpointStore says it is Node's", async () => {
    expect(inputs).toContain("client/dist/client/src/private/platform.browser.js");
    expect(inputs).toContain("client/dist/client/src/private/transparency/verifier.js");
    expect(inputs.filter((i) => /(^|\/)node:|connect-node|platform\.node|fileStore/.test(i))).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as { transparencyPage: { fileStore(): unknown } }).transparencyPage.fileStore())).toMatchObject({
      ok: false,
      code: "INVALID_INPUT",
    });
  });

  it("verifies honest resolves over Connect, gRPC-Web and JSON and keeps the checkpoint in localStorage", async () => {
    const raw = await liar.proofOf(NAMES.bob);
    const cp = parseCheckpoint(parseNote(raw.checkpoint)!.text)!;
    for (const protocol of BROWSER_PROTOCOLS) {
      const r = await verifiedResolve(page, { baseUrl: a.url, protocol, username: NAMES.bob, storePrefix: `honest-${protocol}/` });
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
      if (!r.ok) continue;
      expect(r.identity).toBe(sent["bob"]);
      expect(r.proof).toEqual({ leafIndex: raw.index, treeSize: cp.size, rootHash: bytesToHex(cp.rootHash), cosigners: [] });
      expect(parseCheckpoint(verifyNote(r.stored!, [KEYS.logVkey]).text)!.size).toBe(cp.size);
    }
    const unknown = await verifiedResolve(page, { baseUrl: a.url, protocol: "json", username: uniqueName("nobody"), storePrefix: "unknown/" });
    expect(unknown).toMatchObject({ ok: true, identity: null });
    expect(await page.locator("#results li").allTextContents()).toEqual(
      expect.arrayContaining([`connect: verified, entry ${raw.index} of ${cp.size}`, `json: verified, entry ${raw.index} of ${cp.size}`]),
    );
  });

  const lies: [reason: string, username: keyof typeof NAMES, stage: () => Promise<Lie>][] = [
    ["BAD_COMMITMENT", "twin", async () => anotherIdentity(a, b)],
    [
      "BAD_VRF_PROOF",
      "alice",
      async () => {
        const bobs = parseProofExtra((await liar.proofOf(NAMES.bob)).extra)!;
        return liar.rewriteProof((p) => formatTlogProof({ ...p, extra: encodeProofExtra({ ...parseProofExtra(p.extra)!, vrfProof: bobs.vrfProof }) }));
      },
    ],
    [
      "BAD_INCLUSION_PROOF",
      "alice",
      async () => {
        const bob = await liar.proofOf(NAMES.bob);
        return liar.rewriteProof((p) => formatTlogProof({ ...p, index: bob.index, proof: bob.proof }));
      },
    ],
  ];

  it.each(lies)("refuses a lying registry in the page: %s, over every protocol, storing nothing", async (reason, username, stage) => {
    liar.lie(await stage());
    for (const protocol of BROWSER_PROTOCOLS) {
      const r = await verifiedResolve(page, { baseUrl: a.url, protocol, username: NAMES[username], storePrefix: `lie-${reason}-${protocol}/` });
      expect(r, JSON.stringify(r)).toMatchObject({ ok: false, code: "VERIFICATION_FAILED", reason, stored: null });
    }
    expect(liar.calls.resolveWithProof).toBe(BROWSER_PROTOCOLS.length); // one each: never retried
    // The truth verifies, in the same page.
    liar.tellTheTruth();
    const r = await verifiedResolve(page, { baseUrl: a.url, protocol: "json", username: NAMES[username], storePrefix: `truth-${reason}/` });
    expect(r).toMatchObject({ ok: true, identity: username === "twin" ? sent["twin"] : sent["alice"] });
  });
});
