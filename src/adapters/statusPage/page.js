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
    const t = el("time", new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"));
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
    for (const line of text.split("\n")) {
      const m = /^enigma_requests_total\{([^}]*)\} (\S+)$/.exec(line);
      const op = m && /(?:^|,)operation="([^"]*)"/.exec(m[1]);
      if (op) byOp.set(op[1], (byOp.get(op[1]) || 0) + Number(m[2]));
    }
    return byOp;
  }

  /** enigma_config_loaded_timestamp_seconds: start-up, or the last reload (SIGHUP) that applied. */
  function configLoaded(text) {
    const m = /^enigma_config_loaded_timestamp_seconds (\S+)$/m.exec(text);
    if (!m) return;
    const at = new Date(Number(m[1]) * 1000);
    const time = el("time", at.toLocaleString());
    time.dateTime = at.toISOString();
    $("config-loaded").replaceChildren(time);
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
    const text = await res.text();
    configLoaded(text);
    const byOp = requestsByOperation(text);
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
