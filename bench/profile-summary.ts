// Summarises .cpuprofile files (node --cpu-prof) by self time: per function
// and per package/file. Usage: tsx bench/profile-summary.ts FILE... [--top N]
// (`BENCH_PROFILE=DIR npm run bench` makes the servers write them into DIR.)
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt === -1 ? 40 : Number(args[topAt + 1]);
const files = args.filter((_, i) => topAt === -1 || (i !== topAt && i !== topAt + 1));

function where(url: string): string {
  if (url === "") return "(native/vm)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm !== -1) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) return url;
  const src = url.indexOf("/src/");
  if (src !== -1) return url.slice(src + 1);
  return url.replace(/^file:\/\//, "");
}

for (const file of files) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const w = where(url);
    const fn = `${functionName || "(anonymous)"}  ${w}${url ? `:${lineNumber + 1}` : ""}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    byFile.set(w, (byFile.get(w) ?? 0) + us);
  }
  const pct = (us: number): string =>
    ((100 * us) / total).toFixed(1).padStart(5) + "% " + (us / 1000).toFixed(0).padStart(6) + " ms";
  const idle = byFn.get("(idle)  (native/vm)") ?? 0;
  console.log(`== ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${pct(total - idle)} busy`);
  console.log("-- self time by package / file");
  for (const [k, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(us)}  ${k}`);
  console.log("-- self time by function");
  for (const [k, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
}
