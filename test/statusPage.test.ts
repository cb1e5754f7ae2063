// The status page (GET / and /status) as HTTP sees it: HTML with the service
// name and version, a Content-Security-Policy whose hashes match the page's
// own inline script and style, HEAD, and the ops promise (no rate-limit
// tokens, not counted as a registry request). What it shows once its script
// ran is checked in a real browser (test/browser.test.ts).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startRegistry, testToml } from "./helpers/registry.js";

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

const hashOf = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

describe("the status page", () => {
  let reg: Running;

  beforeAll(async () => {
    // A tiny budget: the page must not spend any of it.
    const toml = testToml({ rateLimit: "per_ip_rps = 1\nburst = 2\nban_seconds = 0" });
    reg = await startRegistry(toml);
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("GET / and GET /status answer the same HTML with the service name and version", async () => {
    const root = await fetch(`${reg.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await root.text();
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toContain("<title>enigma-node-registry status</title>");
    expect(html).toContain("<h1>enigma-node-registry</h1>");
    expect(html).toContain(`<dd id="version">${VERSION}</dd>`);
    expect(Number(root.headers.get("content-length"))).toBe(Buffer.byteLength(html));

    const status = await fetch(`${reg.url}/status`);
    expect(status.status).toBe(200);
    expect(status.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await status.text()).toBe(html);
    // A query string (the page's ?every=) is the same page.
    expect(await (await fetch(`${reg.url}/status?every=2`)).text()).toBe(html);
  });

  it("has a strict Content-Security-Policy whose hashes are the page's own script and style", async () => {
    const res = await fetch(`${reg.url}/`);
    const html = await res.text();
    const csp = res.headers.get("content-security-policy")!;
    const directives = new Map(csp.split("; ").map((d) => [d.slice(0, d.indexOf(" ")), d.slice(d.indexOf(" ") + 1)]));
    expect(directives.get("default-src")).toBe("'none'");
    expect(directives.get("connect-src")).toBe("'self'");
    expect(directives.get("frame-ancestors")).toBe("'none'");
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    expect(directives.get("script-src")).toBe(hashOf(scripts[0]!));
    expect(directives.get("style-src")).toBe(hashOf(styles[0]!));
    // Nothing else runs or styles: no other script tags, no event-handler or style attributes.
    expect(html).not.toMatch(/<script[^>]*\ssrc=|\son[a-z]+=|\sstyle=/i);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("answers HEAD with the headers and no body; other methods are not the page", async () => {
    const get = await fetch(`${reg.url}/status`);
    const head = await fetch(`${reg.url}/status`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(head.headers.get("content-length")).toBe(get.headers.get("content-length"));
    expect(await head.text()).toBe("");
    const post = await fetch(`${reg.url}/`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(post.status).toBe(404);
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("spends no rate-limit tokens and is not counted as a registry request", async () => {
    const before = await (await fetch(`${reg.url}/metrics`)).text();
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${reg.url}/`)).status).toBe(200);
      expect((await fetch(`${reg.url}/status`, { method: "HEAD" })).status).toBe(200);
    }
    // The burst of 2 is still whole.
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(200);
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(200);
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(429);
    const after = await (await fetch(`${reg.url}/metrics`)).text();
    const unknown = (text: string): string[] => text.split("\n").filter((l) => l.startsWith("enigma_requests_total") && l.includes('operation="unknown"'));
    // The POST / of the test above is the one "unknown" request; the pages added none.
    expect(unknown(after)).toEqual(unknown(before));
    expect(after).not.toMatch(/operation="(status|page|index)"/);
  });
});
