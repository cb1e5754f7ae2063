// Baseline: a bare node:http route answering constant JSON, in its own
// process. What one Node process on this machine can do for HTTP/1.1 JSON
// with nothing of the registry in the way. Usage: bare-http.ts PORT
import http from "node:http";

const BODY = '{"exists":true}';
const LENGTH = String(Buffer.byteLength(BODY));
const port = Number(process.argv[2] ?? 0);

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": LENGTH });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`bare-http listening on http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
