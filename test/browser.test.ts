// The client in a real browser: Debian's chromium (/usr/bin/chromium) driven by
// playwright-core, which downloads no browser. A page served from one
// 127.0.0.1 port runs @enigma/registry-client, bundled for the browser by
// esbuild from the package's dist/ (its "browser" field swaps in the fetch
// runtime), and calls registries running as real processes on other ports:
// - origin allowed ([cors] allowed_origins): register + resolve + check_user
//   round-trip the same identity bytes over Connect, gRPC-Web and JSON;
// - origin allowed, tiny rate limit: RATE_LIMITED with its retryAfterMs
//   reaches the page (error bodies and headers are readable cross-origin);
// - origin not allowed: the browser blocks every call and the page sees the
//   client's NETWORK error.
// Then the registry's own status page (GET /) in the same browser: its script
// fills in health, keys, nodes and request rates under its strict CSP, and a
// screenshot is saved.
//
// Without /usr/bin/chromium this file fails (it never skips) and says how to
// install it. One browser for the whole file.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  KEY_A,
  KEY_B,
  PEPPER_HEX,
  type RegistryProcess,
  keyEntry,
  testToml,
  requestCount,
  startRegistryProcess,
  uniqueName,
} from "./client/registryProcess.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--disable-dev-shm-usage",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLIENT_DIR = path.join(ROOT, "client");
const PAGE_ENTRY = path.join(ROOT, "test/fixtures/browserPage.mjs");
const BROWSER_PROTOCOLS = ["connect", "grpc-web", "json"] as const;
/** An inactive key with an expiry far ahead: the status page shows both states and a date. */
const KEY_B_EXPIRY = Date.UTC(2100, 0, 1);
const NODE_URL = "https://node-a.example:9000";

// ---------------------------------------------------------------- set-up pieces

function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing. This test drives Debian's chromium; install it with ` +
        "`apt-get install -y chromium` (as root; .ci/run does it) and run the tests again.",
    );
  }
}

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((name) => newestMtime(path.join(p, name))));
}

/**
 * client/dist is what the bundle is made from (as users get it): rebuilt here
 * when a source is newer than it (npm ci builds it; an edit since would be
 * missed otherwise). The build swaps dist/ in whole.
 */
function ensureFreshDist(): void {
  const built = path.join(CLIENT_DIR, "dist/client/src/index.js");
  const sources = Math.max(
    newestMtime(path.join(CLIENT_DIR, "src")),
    newestMtime(path.join(ROOT, "gen")),
    newestMtime(path.join(CLIENT_DIR, "tsconfig.json")),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const r = spawnSync(process.execPath, [path.join(CLIENT_DIR, "scripts/build.mjs")], { cwd: CLIENT_DIR, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`client build failed:\n${r.stdout}\n${r.stderr}`);
}

interface Bundle {
  readonly code: Uint8Array;
  readonly inputs: string[];
}

async function bundlePage(): Promise<Bundle> {
  const result = await build({
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
  return { code: result.outputFiles[0]!.contents, inputs: Object.keys(result.metafile.inputs) };
}

const TEST_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>registry client in a page</title></head>
<body>
<h1>@enigma/registry-client in a page</h1>
<p>Script: <span id="state">loading</span></p>
<h2>Round trips</h2><ul id="round-trips"></ul>
<h2>Rate limited</h2><ul id="rate-limited"></ul>
<h2>Blocked</h2><ul id="blocked"></ul>
<script type="module" src="/page.js"></script>
</body>
</html>
`;

interface PageServer {
  readonly origin: string;
  setScript(code: Uint8Array): void;
  close(): Promise<void>;
}

/** The test page and its script, on a port of its own (another origin than any registry). */
async function startPageServer(): Promise<PageServer> {
  let script: Uint8Array = new Uint8Array();
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string | Uint8Array): void => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
      res.end(body);
    };
    if (req.url === "/") send(200, "text/html; charset=utf-8", TEST_PAGE);
    else if (req.url === "/page.js") send(200, "text/javascript; charset=utf-8", script);
    else send(404, "text/plain", "not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    setScript(code) {
      script = code;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- page calls

interface Failure {
  code: string;
  message: string;
  retryAfterMs: number | null;
  status: number | null;
}
type RoundTrip = ({ ok: true; sent: string; got: string | null; exists: boolean } | ({ ok: false } & Failure));
type RateLimited = Failure & { calls: number };
type PageFunctions = {
  roundTrip: RoundTrip;
  untilRateLimited: RateLimited;
  blocked: Failure;
};

/** Calls one of the functions test/fixtures/browserPage.mjs puts on the page. */
function call<K extends keyof PageFunctions>(page: Page, fn: K, arg: Record<string, unknown>): Promise<PageFunctions[K]> {
  return page.evaluate(
    ({ fn, arg }) =>
      (globalThis as unknown as { registryPage: Record<string, (a: unknown) => Promise<unknown>> }).registryPage[fn]!(arg),
    { fn, arg },
  ) as Promise<PageFunctions[K]>;
}

/** For locator.evaluateAll on table rows: each row's cell texts (runs in the page). */
const cellTexts = (rows: unknown[]): (string | null)[][] =>
  rows.map((r) => Array.from((r as { cells: ArrayLike<{ textContent: string | null }> }).cells, (c) => c.textContent));

const lines = async (page: Page, listId: string): Promise<string[]> => page.locator(`#${listId} li`).allTextContents();

// ---------------------------------------------------------------- the tests

// Its own test, so a machine without chromium shows a failed test with the
// fix (the tests below then fail in beforeAll, never skip quietly).
it(`finds Debian's chromium at ${CHROMIUM}`, () => {
  requireChromium();
});

describe("@enigma/registry-client in Chromium", () => {
  let browser: Browser | undefined;
  let pages: PageServer;
  let allowed: RegistryProcess; // allows the page's origin; two keys; the status page is opened here
  let limited: RegistryProcess; // allows the page's origin; burst 2, then a 60 s ban
  let refused: RegistryProcess; // allows another origin only
  let context: BrowserContext;
  let page: Page;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    requireChromium();
    pages = await startPageServer();
    const cors = (origin: string): string => `[cors]\nallowed_origins = ["${origin}"]`;
    const started = await Promise.all([
      startRegistryProcess("browser-allowed", testToml({ top: cors(pages.origin), keys: [keyEntry(KEY_A, true), keyEntry(KEY_B, false, KEY_B_EXPIRY)] })),
      startRegistryProcess("browser-limited", testToml({ top: cors(pages.origin), rateLimit: "per_ip_rps = 1\nburst = 2\nban_seconds = 60" })),
      startRegistryProcess("browser-refused", testToml({ top: cors("https://app.example") })),
      (async () => {
        ensureFreshDist();
        const bundle = await bundlePage();
        // The package's dist with its browser runtime, and nothing of Node's.
        expect(bundle.inputs).toContain("client/dist/client/src/private/platform.browser.js");
        expect(bundle.inputs.filter((i) => /(^|\/)node:|connect-node|platform\.node/.test(i))).toEqual([]);
        const gzipped = gzipSync(bundle.code).length;
        console.log(`browser bundle of the test page (the client from client/dist): ${bundle.code.length} bytes minified, ${gzipped} bytes gzipped`);
        pages.setScript(bundle.code);
      })(),
      (async () => {
        browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      })(),
    ]);
    [allowed, limited, refused] = started;
    context = await browser!.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    await page.goto(`${pages.origin}/`);
    await page.locator("#state", { hasText: "loaded" }).waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([allowed?.stop(), limited?.stop(), refused?.stop(), pages?.close()]);
  });

  it("registers, resolves and checks the same identity bytes over Connect, gRPC-Web and JSON from another origin", async () => {
    for (const protocol of BROWSER_PROTOCOLS) {
      const username = uniqueName(`browser-${protocol}`);
      const r = await call(page, "roundTrip", { baseUrl: allowed.url, pepper: PEPPER_HEX, protocol, username });
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true, exists: true });
      if (!r.ok) continue;
      expect(r.got).toBe(r.sent);
      expect(JSON.parse(r.sent).username_hint).toBe(username);
    }
    expect(await lines(page, "round-trips")).toEqual([
      "connect: same identity, check_user true",
      "grpc-web: same identity, check_user true",
      "json: same identity, check_user true",
    ]);
    // The registry saw them on the matching surfaces.
    for (const surface of ["connect", "grpc_web", "json"]) {
      expect(await requestCount(allowed.url, { surface, operation: "register", code: "OK" })).toBe(1);
      expect(await requestCount(allowed.url, { surface, operation: "resolve", code: "OK" })).toBe(1);
    }
  }, 20_000);

  it("shows a RATE_LIMITED answer's retryAfterMs in the page, over every protocol", async () => {
    // A burst of 2 (refilling 1 a second): the third call or so is refused and the IP is banned for 60 s.
    const first = await call(page, "untilRateLimited", { baseUrl: limited.url, protocol: "json", calls: 6 });
    expect(first).toMatchObject({ code: "RATE_LIMITED", status: 429 });
    expect(first.calls).toBeGreaterThanOrEqual(3);
    // The other protocols meet the ban at once.
    const rest = [];
    for (const protocol of ["connect", "grpc-web"] as const) {
      rest.push(await call(page, "untilRateLimited", { baseUrl: limited.url, protocol, calls: 1 }));
    }
    for (const r of [first, ...rest]) {
      expect(r.code, r.message).toBe("RATE_LIMITED");
      expect(r.retryAfterMs).toBeGreaterThan(50_000);
      expect(r.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    const shown = await lines(page, "rate-limited");
    expect(shown).toHaveLength(3);
    expect(shown[0]).toMatch(/^json: RATE_LIMITED, retry after \d+ ms$/);
    expect(shown[1]).toMatch(/^connect: RATE_LIMITED, retry after \d+ ms$/);
    expect(shown[2]).toMatch(/^grpc-web: RATE_LIMITED, retry after \d+ ms$/);
    expect(shown[0]).toContain(`retry after ${first.retryAfterMs} ms`);
  }, 20_000);

  it("is blocked by the browser when the registry does not allow the page's origin: NETWORK", async () => {
    for (const protocol of BROWSER_PROTOCOLS) {
      const r = await call(page, "blocked", { baseUrl: refused.url, protocol });
      expect(r.code, `${protocol}: ${r.message}`).toBe("NETWORK");
    }
    expect(await lines(page, "blocked")).toEqual(["connect: NETWORK", "grpc-web: NETWORK", "json: NETWORK"]);
    // The browser said why.
    const cors = consoleLines.filter((l) => l.includes(refused.url) && l.includes("blocked by CORS policy"));
    expect(cors.length, consoleLines.join("\n")).toBeGreaterThanOrEqual(3);
    // Connect and gRPC-Web need a preflight, which got no CORS headers: their calls never left the browser.
    expect(await requestCount(refused.url, { surface: "connect" })).toBe(0);
    expect(await requestCount(refused.url, { surface: "grpc_web" })).toBe(0);
  }, 20_000);

  it("opens the registry's status page: name, version, health, keys, nodes and request rates", async () => {
    const added = await fetch(`${allowed.url}/nodes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nodes: [{ base_url: NODE_URL }] }),
    });
    expect(added.status).toBe(200);
    const status = await context.newPage();
    status.setDefaultTimeout(10_000);
    const problems: string[] = [];
    status.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(m.text());
    });
    status.on("pageerror", (e) => problems.push(e.message));
    // Sample every second, so the rates come quickly.
    const res = await status.goto(`${allowed.url}/?every=1`);
    expect(res?.status()).toBe(200);
    await status.locator("#health", { hasText: /^ready$/ }).waitFor();
    await status.locator("#keys-body tr", { hasText: KEY_A.kid }).waitFor();
    await status.locator("#nodes li", { hasText: NODE_URL }).waitFor();
    await status.locator("#rates-note", { hasText: "Requests per second" }).waitFor();

    const shot = path.join(mkdtempSync(path.join(os.tmpdir(), "enigma-status-page-")), "status.png");
    await status.screenshot({ path: shot, fullPage: true });
    console.log(`status page screenshot: ${shot}`);

    expect(await status.title()).toBe("enigma-node-registry status");
    expect(await status.locator("h1").textContent()).toBe("enigma-node-registry");
    expect(await status.locator("#version").textContent()).toMatch(/^\d+\.\d+\.\d+/);
    const keys = await status.locator("#keys-body tr").evaluateAll(cellTexts);
    expect(keys).toEqual([
      [KEY_A.kid, KEY_A.pub, "active", "no expiry"],
      [KEY_B.kid, KEY_B.pub, "inactive", "2100-01-01 00:00:00 UTC"],
    ]);
    expect(await status.locator("#nodes li").allTextContents()).toEqual([NODE_URL]);
    expect(await status.locator("#nodes-count").textContent()).toBe("(1)");
    // The round trips of the first test are in the totals; every rate is a number.
    const rates = await status.locator("#rates-body tr").evaluateAll(cellTexts);
    const byOp = new Map(rates.map((r) => [r[0], r]));
    expect(Number(byOp.get("register")?.[1])).toBeGreaterThanOrEqual(3);
    expect(Number(byOp.get("resolve")?.[1])).toBeGreaterThanOrEqual(3);
    for (const r of rates) expect(r[2]).toMatch(/^\d+\.\d\d$/);
    // The strict CSP let the page's own script and style run and blocked nothing it needed.
    expect(problems).toEqual([]);
    await status.close();
  }, 20_000);

  it("status page: says so when /metrics is not served and when the registry is not ready", async () => {
    // As behind a proxy that serves the page but not /metrics, with storage down.
    const status = await context.newPage();
    status.setDefaultTimeout(10_000);
    await status.route("**/metrics", (route) => route.fulfill({ status: 404, contentType: "text/plain", body: "not here" }));
    await status.route("**/readyz", (route) =>
      route.fulfill({ status: 503, contentType: "application/json", body: '{"error":{"code":"UNAVAILABLE","message":"storage unreachable"}}' }),
    );
    await status.goto(`${allowed.url}/status`);
    await status.locator("#health", { hasText: "not ready" }).waitFor();
    await status.locator("#rates-note", { hasText: "Metrics not served here" }).waitFor();
    expect(await status.locator("#health").textContent()).toBe("not ready (HTTP 503: storage unreachable)");
    expect(await status.locator("#rates-note").textContent()).toBe("Metrics not served here (HTTP 404).");
    expect(await status.locator("#rates").isHidden()).toBe(true);
    // The rest still shows.
    await status.locator("#keys-body tr", { hasText: KEY_A.kid }).waitFor();
    await status.close();
  }, 15_000);
});
