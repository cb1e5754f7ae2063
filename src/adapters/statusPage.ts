// The status page at GET / and /status: one small HTML document for a person
// with a browser. Service name and version are written into it at start-up;
// its inline script reads the rest from the registry's own paths on the same
// origin (/readyz, /envelope_pubkeys, /nodes, /metrics) and refreshes it.
//
// The Content-Security-Policy allows nothing but this page's own script and
// style (by their SHA-256, computed here at start-up) and fetches to its own
// origin. The script writes only text (textContent), never markup, so nothing
// the registry stores (node URLs) can become HTML.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export const SERVICE_NAME = "enigma-node-registry";

/** Sampling every `?every=` seconds (1..60, default 5); keys and nodes, which cost a rate-limit token each, once a minute. */
const SCRIPT = `
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const asked = Number(new URLSearchParams(location.search).get("every"));
  const every = Number.isFinite(asked) && asked >= 1 ? Math.min(asked, 60) : 5;
  const SLOW_EVERY = 60;
  let previous = null;

  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  const row = (cells) => {
    const tr = document.createElement("tr");
    for (const c of cells) tr.append(typeof c === "string" ? el("td", c) : c);
    return tr;
  };
  const wide = (text, columns) => {
    const td = el("td", text, "note");
    td.colSpan = columns;
    return row([td]);
  };
  const get = (path) => fetch(path, { cache: "no-store", headers: { accept: "application/json, text/plain" } });
  const why = async (res) => {
    let message = "";
    try {
      message = (await res.json()).error.message;
    } catch {}
    return "HTTP " + res.status + (message ? ": " + message : "");
  };
  const when = (ms) => {
    const t = el("time", new Date(ms).toISOString().replace("T", " ").replace(/\\.\\d+Z$/, " UTC"));
    t.dateTime = new Date(ms).toISOString();
    return t;
  };

  async function health() {
    const out = $("health");
    try {
      const res = await get("readyz");
      if (res.ok) {
        out.textContent = "ready";
        out.className = "good";
      } else {
        out.textContent = "not ready (" + (await why(res)) + ")";
        out.className = "bad";
      }
    } catch {
      out.textContent = "unreachable";
      out.className = "bad";
    }
  }

  async function keys() {
    const body = $("keys-body");
    try {
      const res = await get("envelope_pubkeys");
      if (!res.ok) return body.replaceChildren(wide("Could not load the keys: " + (await why(res)) + ".", 4));
      const list = await res.json();
      if (list.length === 0) return body.replaceChildren(wide("No keys.", 4));
      body.replaceChildren(...list.map((k) => {
        const expiry = el("td", undefined, "nowrap");
        if (k.not_after_epoch_ms === undefined) expiry.textContent = "no expiry";
        else {
          expiry.append(when(k.not_after_epoch_ms));
          if (k.not_after_epoch_ms <= Date.now()) expiry.append(" (expired)");
        }
        return row([el("td", k.kid_hex, "mono nowrap"), el("td", k.x25519_public_key_hex, "mono"),
          el("td", k.active ? "active" : "inactive", k.active ? "good" : ""), expiry]);
      }));
    } catch {
      body.replaceChildren(wide("Could not reach the registry.", 4));
    }
  }

  async function nodes() {
    const list = $("nodes");
    try {
      const res = await get("nodes");
      if (!res.ok) return list.replaceChildren(el("li", "Could not load the nodes: " + (await why(res)) + ".", "note"));
      const urls = (await res.json()).nodes.map((n) => n.base_url);
      $("nodes-count").textContent = "(" + urls.length + ")";
      list.replaceChildren(...(urls.length === 0 ? [el("li", "No nodes known yet.", "note")] : urls.map((u) => {
        const li = el("li");
        li.append(el("code", u));
        return li;
      })));
    } catch {
      list.replaceChildren(el("li", "Could not reach the registry.", "note"));
    }
  }

  /** enigma_requests_total summed over surface and code, by operation. */
  function requestsByOperation(text) {
    const byOp = new Map();
    for (const line of text.split("\\n")) {
      const m = /^enigma_requests_total\\{([^}]*)\\} (\\S+)$/.exec(line);
      const op = m && /(?:^|,)operation="([^"]*)"/.exec(m[1]);
      if (op) byOp.set(op[1], (byOp.get(op[1]) || 0) + Number(m[2]));
    }
    return byOp;
  }

  async function rates() {
    const note = $("rates-note");
    const table = $("rates");
    let res = null;
    try {
      res = await get("metrics");
    } catch {}
    if (res === null || !res.ok) {
      note.textContent = "Metrics not served here" + (res ? " (HTTP " + res.status + ")." : ".");
      table.hidden = true;
      previous = null;
      return;
    }
    const t = performance.now();
    const byOp = requestsByOperation(await res.text());
    const seconds = previous && (t - previous.t) / 1000;
    const rate = (op) => previous ? (Math.max(0, byOp.get(op) - (previous.byOp.get(op) || 0)) / seconds).toFixed(2) : "…";
    const ops = [...byOp.keys()].sort();
    $("rates-body").replaceChildren(...(ops.length === 0
      ? [wide("No registry requests yet.", 3)]
      : ops.map((op) => row([el("td", op, "mono"), el("td", String(byOp.get(op)), "num"), el("td", rate(op), "num")]))));
    note.textContent = previous
      ? "Requests per second over the last " + seconds.toFixed(1) + " s (enigma_requests_total, all surfaces and results)."
      : "Measuring: the first rates come after " + every + " s.";
    table.hidden = false;
    previous = { t, byOp };
  }

  async function refresh(all) {
    await Promise.all(all ? [health(), rates(), keys(), nodes()] : [health(), rates()]);
    const now = el("time", new Date().toLocaleTimeString());
    now.dateTime = new Date().toISOString();
    $("updated").replaceChildren(now);
  }

  let ticks = 0;
  const tick = async () => {
    await refresh(ticks % Math.ceil(SLOW_EVERY / every) === 0);
    ticks++;
    setTimeout(tick, every * 1000);
  };
  $("every").textContent = String(every);
  tick();
})();
`;

const STYLE = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { max-width: 62rem; margin: 0 auto; padding: 1rem 1.5rem 2rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 0.5rem; border-bottom: 1px solid #8886; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1.25rem; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid #8884; vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono, code { font-family: ui-monospace, monospace; word-break: break-all; }
.nowrap { white-space: nowrap; }
.good { color: #0a6b2c; font-weight: 600; }
.bad { color: #b3261e; font-weight: 600; }
.note, footer { color: #666; }
@media (prefers-color-scheme: dark) { .good { color: #6fdc98; } .bad { color: #ff8a80; } .note, footer { color: #aaa; } }
`;

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const sha256 = (text: string): string => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

function html(version: string): string {
  const name = escapeHtml(SERVICE_NAME);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${name} status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${name}</h1>
<dl>
<dt>Version</dt><dd id="version">${escapeHtml(version)}</dd>
<dt>Health</dt><dd><span id="health" role="status">checking…</span></dd>
<dt>Updated</dt><dd id="updated">not yet</dd>
</dl>
</header>
<main>
<section aria-labelledby="keys-title">
<h2 id="keys-title">Envelope keys</h2>
<table>
<thead><tr><th scope="col">Key id</th><th scope="col">X25519 public key</th><th scope="col">State</th><th scope="col">Expires</th></tr></thead>
<tbody id="keys-body"><tr><td colspan="4" class="note">Loading…</td></tr></tbody>
</table>
</section>
<section aria-labelledby="nodes-title">
<h2 id="nodes-title">Nodes <span id="nodes-count"></span></h2>
<ul id="nodes"><li class="note">Loading…</li></ul>
</section>
<section aria-labelledby="rates-title">
<h2 id="rates-title">Requests</h2>
<p id="rates-note" class="note">Loading…</p>
<table id="rates" hidden>
<thead><tr><th scope="col">Operation</th><th scope="col" class="num">Total</th><th scope="col" class="num">Per second</th></tr></thead>
<tbody id="rates-body"></tbody>
</table>
</section>
<noscript><p>This page needs JavaScript to show the registry's state. The same data is at
<a href="readyz">/readyz</a>, <a href="envelope_pubkeys">/envelope_pubkeys</a>, <a href="nodes">/nodes</a> and <a href="metrics">/metrics</a>.</p></noscript>
</main>
<footer>
<p>Health and rates refresh every <span id="every">5</span> s, keys and nodes every minute.
Read from /readyz, /envelope_pubkeys, /nodes and /metrics of this registry.</p>
</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
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
