// Baseline: bare connect-node serving RegistryService.Resolve as an echo (the
// request's handle back plus a constant envelope of the registry's answer
// size) over h2c, in its own process. Same messages, adapter and transport
// as the registry's gRPC figure, none of its logic. Usage: bare-connect.ts PORT
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { IdentityEnvelopeSchema, RegistryService } from "../../gen/enigma/registry/v1/registry_pb.js";

const port = Number(process.argv[2] ?? 0);
// The registry's sealed identity is ~380 bytes of ciphertext for the bench identity.
const envelope = create(IdentityEnvelopeSchema, {
  kid: new Uint8Array(8).fill(1),
  senderPubkey: new Uint8Array(32).fill(2),
  nonce: new Uint8Array(24).fill(3),
  ciphertext: new Uint8Array(380).fill(4),
});

const handler = connectNodeAdapter({
  routes: (router) => {
    router.service(RegistryService, {
      resolve: async (req) => ({ handle: req.handle, envelope }),
    });
  },
});
const server = http2.createServer({ settings: { maxConcurrentStreams: 100 } }, handler);
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`bare-connect listening on http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
