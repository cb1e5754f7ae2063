// The X25519 worker thread (see x25519Pool.ts). Plain JavaScript on purpose:
// Node loads it as is under tsx, vitest or plain node, with no TypeScript hook.
//
// workerData.privateKeys: the raw 32-byte private keys, indexed as the pool's.
// Each message is one batch of jobs, JOB bytes each: [key index][peer public
// key, 32 bytes]. The answer is one buffer of RESULT bytes per job, in order:
// [1 = ok, 0 = refused][shared secret, 32 bytes].
import { createPrivateKey, createPublicKey, diffieHellman } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";

const JOB = 33;
const RESULT = 33;
const b64url = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");

const privateKeys = workerData.privateKeys.map((entry) =>
  createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: b64url(entry.privateKey), x: b64url(entry.publicKey) }, format: "jwk" }),
);

parentPort.on("message", (jobs) => {
  const count = jobs.length / JOB;
  const out = new Uint8Array(count * RESULT);
  for (let i = 0; i < count; i++) {
    const job = jobs.subarray(i * JOB, (i + 1) * JOB);
    const privateKey = privateKeys[job[0]];
    try {
      const publicKey = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64url(job.subarray(1)) }, format: "jwk" });
      const shared = diffieHellman({ privateKey, publicKey });
      if (shared.length === 32) {
        out[i * RESULT] = 1;
        out.set(shared, i * RESULT + 1);
      }
    } catch {
      // refused (low-order or malformed key, unknown index): the status byte stays 0
    }
  }
  parentPort.postMessage(out, [out.buffer]);
});
