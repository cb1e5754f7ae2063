// The operation catalogue: every operation of the registry named once, with
// the RPC and JSON route that reach it, the rate-limit scope it spends, and
// whether it writes. Metrics, logs and every surface take names from here.
import type { BulkWrite } from "../guard/access.js";
import type { RateScope } from "../wire/domain.js";
import { RegistryService } from "../../gen/enigma/registry/v1/registry_pb.js";

type RpcName = keyof typeof RegistryService.method;

export interface Operation {
  /** The name in metrics and log lines (the RPC's name in snake case). */
  readonly name: string;
  /** The RegistryService method. */
  readonly rpc: RpcName;
  /** The JSON route ("METHOD /path"; /check_user/ is matched by prefix), if the operation has one. */
  readonly json: string | null;
  /** The rate-limit bucket it spends besides the global one (null: the global one only; "none": no tokens at all). */
  readonly scope: RateScope | "none";
  /** Whether it changes what the registry stores. */
  readonly writes: boolean;
  /** The bulk writes [access] guards; their credentials are checked before the body is read. */
  readonly access?: BulkWrite;
}

export const OPERATIONS = {
  register: { name: "register", rpc: "register", json: "POST /register", scope: "register", writes: true },
  resolve: { name: "resolve", rpc: "resolve", json: "POST /resolve", scope: "resolve", writes: false },
  checkUser: { name: "check_user", rpc: "checkUser", json: "GET /check_user/", scope: "check_user", writes: false },
  announce: { name: "announce", rpc: "announce", json: "POST /announce", scope: null, writes: true },
  sync: { name: "sync", rpc: "sync", json: "POST /sync", scope: null, writes: true, access: "sync" },
  listNodes: { name: "list_nodes", rpc: "listNodes", json: "GET /nodes", scope: null, writes: false },
  addNodes: { name: "add_nodes", rpc: "addNodes", json: "POST /nodes", scope: null, writes: true, access: "add_nodes" },
  getEnvelopePublicKey: {
    name: "get_envelope_public_key", rpc: "getEnvelopePublicKey", json: "GET /envelope_pubkey", scope: null, writes: false,
  },
  listEnvelopePublicKeys: {
    name: "list_envelope_public_keys", rpc: "listEnvelopePublicKeys", json: "GET /envelope_pubkeys", scope: null, writes: false,
  },
  getPowChallenge: { name: "get_pow_challenge", rpc: "getPowChallenge", json: "GET /pow/challenge", scope: null, writes: false },
  // The transparency log: reads that spend no rate-limit tokens (the log is public by design).
  getCheckpoint: { name: "get_checkpoint", rpc: "getCheckpoint", json: "GET /transparency/checkpoint", scope: "none", writes: false },
  getConsistencyProof: {
    name: "get_consistency_proof", rpc: "getConsistencyProof", json: "GET /transparency/consistency/", scope: "none", writes: false,
  },
  getTransparencyKeys: { name: "get_transparency_keys", rpc: "getTransparencyKeys", json: "GET /transparency/keys", scope: "none", writes: false },
} as const satisfies Record<RpcName, Operation>;

/** Tiles and entry bundles: an HTTP-only read of the log (tlog-tiles has no RPC for them). */
export const TILE_OPERATION = { name: "get_tile", json: "GET /transparency/tile/", scope: "none", writes: false } as const;

/** The operation of each JSON route key. */
export const OPERATION_BY_ROUTE: ReadonlyMap<string, Operation> = new Map(
  Object.values(OPERATIONS as Record<string, Operation>).flatMap((op) => (op.json === null ? [] : [[op.json, op]])),
);

/** The operation of each RPC path (`/enigma.registry.v1.RegistryService/Sync`). */
export const OPERATION_BY_RPC_PATH: ReadonlyMap<string, Operation> = new Map(
  Object.values(OPERATIONS as Record<string, Operation>).map((op) => [
    `/${RegistryService.typeName}/${RegistryService.method[op.rpc].name}`,
    op,
  ]),
);
