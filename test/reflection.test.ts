// gRPC server reflection through real clients: `buf curl` (list methods, and
// calls that learn the schema from the server, never from proto/), and
// @grpc/grpc-js speaking grpc.reflection.v1 and v1alpha directly.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Running, startRegistry } from "./helpers/registry.js";

const run = promisify(execFile);
const BUF = "node_modules/.bin/buf";

let reg: Running;
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg.stop();
});

describe("buf curl", () => {
  it("--list-methods lists every service's methods", async () => {
    const { stdout } = await run(BUF, ["curl", "--list-methods", "--http2-prior-knowledge", reg.url]);
    const methods = stdout.trim().split("\n");
    expect(methods).toContain("enigma.registry.v1.RegistryService/Resolve");
    expect(methods).toContain("enigma.registry.v1.RegistryService/ListEnvelopePublicKeys");
    expect(methods).toContain("grpc.health.v1.Health/Check");
    expect(methods).toContain("grpc.health.v1.Health/Watch");
    expect(methods).toContain("grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
    expect(methods).toContain("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
    expect(methods).toContain("enigma.registry.v1.RegistryService/GetCheckpoint");
    expect(methods).toHaveLength(17); // 13 of RegistryService (3 for the transparency log), 2 of Health, 2 of reflection
  }, 30_000);

  for (const protocol of ["grpc", "connect"] as const) {
    it(`calls RegistryService/CheckUser over ${protocol} with the schema from reflection`, async () => {
      const { stdout } = await run(BUF, [
        "curl", "--reflect", "--protocol", protocol, "--http2-prior-knowledge",
        "-d", JSON.stringify({ handle: Buffer.alloc(32, 7).toString("base64") }),
        `${reg.url}/enigma.registry.v1.RegistryService/CheckUser`,
      ]);
      expect(JSON.parse(stdout)).toEqual({}); // exists: false is the proto3 default, printed as {}
    }, 30_000);
  }

  it("calls Health/Check with the schema from reflection, v1alpha only", async () => {
    const { stdout } = await run(BUF, [
      "curl", "--reflect", "--reflect-protocol", "grpc-v1alpha", "--protocol", "grpc", "--http2-prior-knowledge",
      `${reg.url}/grpc.health.v1.Health/Check`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  }, 30_000);
});

interface ReflectionResponse {
  validHost: string;
  originalRequest: Record<string, unknown>;
  messageResponse: string;
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  listServicesResponse?: { service: { name: string }[] };
  allExtensionNumbersResponse?: { baseTypeName: string; extensionNumber: number[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/** One bidi stream, several requests in a row, one answer each. */
async function reflect(version: "v1" | "v1alpha", requests: object[]): Promise<ReflectionResponse[]> {
  const def = protoLoader.loadSync(`proto/grpc/reflection/${version}/reflection.proto`, { oneofs: true, arrays: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const client = new pkg.grpc.reflection[version].ServerReflection(reg.url.replace("http://", ""), grpc.credentials.createInsecure());
  try {
    const call = client.serverReflectionInfo() as grpc.ClientDuplexStream<object, ReflectionResponse>;
    const answers: ReflectionResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (m: ReflectionResponse) => answers.push(m));
      call.on("end", resolve);
      call.on("error", reject);
    });
    for (const r of requests) call.write(r);
    call.end();
    await done;
    return answers;
  } finally {
    client.close();
  }
}

const fileNames = (r: ReflectionResponse): string[] =>
  r.fileDescriptorResponse!.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);

for (const version of ["v1", "v1alpha"] as const) {
  describe(`grpc.reflection.${version} through @grpc/grpc-js`, () => {
    it("answers list_services, file_containing_symbol, file_by_filename and not-found requests in order", async () => {
      const answers = await reflect(version, [
        { host: "h", listServices: "" },
        { fileContainingSymbol: "enigma.registry.v1.RegistryService" },
        { fileContainingSymbol: "enigma.registry.v1.RegistryService.Resolve" },
        { fileContainingSymbol: "grpc.health.v1.HealthCheckResponse.ServingStatus" },
        { fileByFilename: "grpc/health/v1/health.proto" },
        { fileContainingSymbol: "no.such.Symbol" },
        { fileByFilename: "nope.proto" },
        { fileContainingExtension: { containingType: "enigma.registry.v1.ErrorInfo", extensionNumber: 100 } },
        { allExtensionNumbersOfType: "enigma.registry.v1.ErrorInfo" },
      ]);
      expect(answers).toHaveLength(9);
      expect(answers[0]!.validHost).toBe("h");
      expect(answers[0]!.listServicesResponse!.service.map((s) => s.name).sort()).toEqual([
        "enigma.registry.v1.RegistryService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]);
      expect(fileNames(answers[1]!)[0]).toBe("enigma/registry/v1/registry.proto");
      expect(fileNames(answers[2]!)[0]).toBe("enigma/registry/v1/registry.proto");
      expect(fileNames(answers[3]!)).toEqual(["grpc/health/v1/health.proto"]);
      const health = fromBinary(FileDescriptorProtoSchema, answers[4]!.fileDescriptorResponse!.fileDescriptorProto[0]!);
      expect(health.service.map((s) => s.name)).toEqual(["Health"]);
      expect(health.service[0]!.method.map((m) => m.name)).toEqual(["Check", "Watch"]);
      for (const i of [5, 6, 7]) {
        expect(answers[i]!.messageResponse).toBe("errorResponse");
        expect(answers[i]!.errorResponse!.errorCode).toBe(grpc.status.NOT_FOUND);
      }
      expect(answers[8]!.allExtensionNumbersResponse).toEqual({ baseTypeName: "enigma.registry.v1.ErrorInfo", extensionNumber: [] });
      expect(answers[6]!.originalRequest["fileByFilename"]).toBe("nope.proto");
    });
  });
}
