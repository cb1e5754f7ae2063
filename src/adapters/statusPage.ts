// The status page at GET / and /status: one small HTML document for a person
// with a browser. Service name and version are written into it at start-up;
// its inline script reads the rest from the registry's own paths on the same
// origin (/readyz, /envelope_pubkeys, /nodes, /metrics) and refreshes it.
//
// The Content-Security-Policy allows nothing but this page's own script and
// style (by their SHA-256, computed here at start-up) and fetches to its own
// origin. The script writes only text (textContent), never markup, so nothing
// the registry stores (node URLs) can become HTML.
//
// The page itself is in statusPage/ (page.html, style.css, page.js), read once
// when this module loads.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export const SERVICE_NAME = "enigma-node-registry";

/** An asset of the page, next to this module (src/adapters/statusPage/, copied to dist/ by the build). */
const asset = (name: string): string => readFileSync(new URL(`./statusPage/${name}`, import.meta.url), "utf8");

// The script samples every `?every=` seconds (1..60, default 5); keys and
// nodes, which cost a rate-limit token each, once a minute. Script and style
// go inline, each starting on a line of its own; the CSP hashes cover exactly
// the text between the tags.
const SCRIPT = "\n" + asset("page.js");
const STYLE = "\n" + asset("style.css");
/** The document, with {{name}}, {{version}}, {{style}} and {{script}} to fill in. */
const TEMPLATE = asset("page.html");

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const sha256 = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

function html(version: string): string {
  const values: Readonly<Record<string, string>> = {
    name: escapeHtml(SERVICE_NAME),
    version: escapeHtml(version),
    style: STYLE,
    script: SCRIPT,
  };
  // One pass: what is filled in is not searched for placeholders again.
  return TEMPLATE.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`status page: unknown placeholder {{${key}}}`);
    return value;
  });
}

/**
 * The version in the registry's package.json (read once, when the app is
 * created). Found by walking up from this file, because it runs both from
 * src/adapters/ and from the compiled dist/src/adapters/.
 */
function packageVersion(): string {
  for (let dir = new URL("./", import.meta.url); ; dir = new URL("../", dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "enigma-node-registry") return typeof pkg.version === "string" ? pkg.version : "unknown";
    } catch {
      // no package.json here: keep walking up
    }
    if (dir.pathname === "/") return "unknown";
  }
}

export interface StatusPage {
  readonly body: string;
  readonly headers: Readonly<Record<string, string | number>>;
}

export function createStatusPage(version: string = packageVersion()): StatusPage {
  const body = html(version);
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return {
    body,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      "content-security-policy": csp,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    },
  };
}
