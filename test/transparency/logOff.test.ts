// With [transparency] off (the default) the log's surfaces exist but answer
// FEATURE_DISABLED, and nothing of the log changes an existing answer.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, connectClient, connectErrorOf, startRegistry, testToml } from "../helpers/registry.js";

let reg: Running;
beforeAll(async () => {
  reg = await startRegistry(testToml());
});
afterAll(async () => {
  await reg.stop();
});

describe("transparency off", () => {
  it("answers every /transparency/ path 400 FEATURE_DISABLED in the JSON error shape", async () => {
    for (const path of ["checkpoint", "keys", "consistency/0/1", "tile/0/000", "tile/entries/000.p/3"]) {
      const res = await fetch(`${reg.url}/transparency/${path}`);
      expect(res.status, path).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code, path).toBe("FEATURE_DISABLED");
    }
  });

  it("refuses \"proof\" in a resolve body as an unknown field, as before the log", async () => {
    const res = await fetch(`${reg.url}/resolve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ handle: "00".repeat(32), requester_ephemeral_pubkey_hex: "09".repeat(32), proof: true }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; message: string } }).error.message).toContain("proof");
  });

  it("answers the log's RPCs and with_proof unimplemented (FEATURE_DISABLED)", async () => {
    const client = connectClient(reg.url);
    for (const call of [
      () => client.getCheckpoint({}),
      () => client.getConsistencyProof({ oldSize: 0n, newSize: 1n }),
      () => client.getTransparencyKeys({}),
      () => client.resolve({ handle: new Uint8Array(32), requesterEphemeralPubkey: new Uint8Array(32).fill(9), withProof: true }),
    ]) {
      const err = await connectErrorOf(call());
      expect(err.code).toBe(Code.Unimplemented);
      expect(err.rawMessage).toContain("transparency is disabled");
    }
    // A plain resolve is unchanged: no proof field set.
    const plain = await client.resolve({ handle: new Uint8Array(32), requesterEphemeralPubkey: new Uint8Array(32).fill(9) });
    expect(plain.proof).toBe("");
    expect(plain.envelope).toBeUndefined();
  });
});
