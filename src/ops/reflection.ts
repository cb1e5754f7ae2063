// gRPC server reflection (grpc.reflection.v1 and v1alpha, wire-identical) so
// grpcurl and `buf curl` work without the .proto files. The answers come from
// the descriptors protoc-gen-es embedded in gen/: createRegistry for symbol
// lookups and each file's FileDescriptorProto, serialized with its imports.
import { create, createRegistry, toBinary, type DescFile, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** grpc::StatusCode values the error_response carries. */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/** The request shape both versions share. */
interface AnyRequest {
  readonly host: string;
  readonly messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
}

type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

const notFound = (what: string): Answer => ({ case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } });

export class Reflection {
  private readonly registry: Registry;
  private readonly byName = new Map<string, DescFile>();
  private readonly serialized = new Map<DescFile, Uint8Array>();

  /** `services`: the full names list_services reports; `files`: where they (and their types) are defined. */
  constructor(
    private readonly services: readonly string[],
    files: readonly DescFile[],
  ) {
    this.registry = createRegistry(...files);
    const add = (f: DescFile): void => {
      if (this.byName.has(f.proto.name)) return;
      this.byName.set(f.proto.name, f);
      f.dependencies.forEach(add);
    };
    files.forEach(add);
  }

  answer(req: AnyRequest): Answer {
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.services.map((name) => ({ name })) } };
      case "fileByFilename": {
        const file = this.byName.get(r.value);
        return file === undefined ? notFound(`file "${r.value}"`) : this.withDependencies(file);
      }
      case "fileContainingSymbol": {
        const file = this.fileOfSymbol(r.value);
        return file === undefined ? notFound(`symbol "${r.value}"`) : this.withDependencies(file);
      }
      case "fileContainingExtension": {
        const msg = this.registry.getMessage(r.value.containingType);
        const ext = msg && this.registry.getExtensionFor(msg, r.value.extensionNumber);
        return ext === undefined ? notFound(`extension ${r.value.extensionNumber} of "${r.value.containingType}"`) : this.withDependencies(ext.file);
      }
      case "allExtensionNumbersOfType": {
        const msg = this.registry.getMessage(r.value);
        if (msg === undefined) return notFound(`type "${r.value}"`);
        const numbers: number[] = [];
        for (const t of this.registry) if (t.kind === "extension" && t.extendee.typeName === msg.typeName) numbers.push(t.number);
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: msg.typeName, extensionNumber: numbers } };
      }
      default:
        return { case: "errorResponse", value: { errorCode: INVALID_ARGUMENT, errorMessage: "empty reflection request" } };
    }
  }

  /** A type, service, method ("pkg.Service.Method") or field / enum value ("pkg.Message.field"). */
  private fileOfSymbol(symbol: string): DescFile | undefined {
    const name = symbol.startsWith(".") ? symbol.slice(1) : symbol;
    const desc = this.registry.get(name);
    if (desc !== undefined) return desc.file;
    const dot = name.lastIndexOf(".");
    if (dot < 0) return undefined;
    const parent = this.registry.get(name.slice(0, dot));
    const member = name.slice(dot + 1);
    if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) return parent.file;
    if (parent?.kind === "message" && parent.fields.some((f) => f.name === member)) return parent.file;
    if (parent?.kind === "enum" && parent.values.some((v) => v.name === member)) return parent.file;
    return undefined;
  }

  /** The file first, then every file it imports (transitively), as the protocol asks. */
  private withDependencies(file: DescFile): Answer {
    const out: Uint8Array[] = [];
    const seen = new Set<DescFile>();
    const visit = (f: DescFile): void => {
      if (seen.has(f)) return;
      seen.add(f);
      out.push(this.bytes(f));
      f.dependencies.forEach(visit);
    };
    visit(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
  }

  private bytes(f: DescFile): Uint8Array {
    let b = this.serialized.get(f);
    if (b === undefined) {
      b = toBinary(FileDescriptorProtoSchema, f.proto);
      this.serialized.set(f, b);
    }
    return b;
  }
}

export const REFLECTION_SERVICES = [v1.ServerReflection.typeName, v1alpha.ServerReflection.typeName] as const;
export const REFLECTION_FILES = [v1.file_grpc_reflection_v1_reflection, v1alpha.file_grpc_reflection_v1alpha_reflection] as const;

/** Registers both reflection services (bidi streams: one answer per request). */
export function reflectionRoutes(reflection: Reflection) {
  return (router: ConnectRouter): void => {
    router.service(v1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(v1.ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse: reflection.answer(req) });
        }
      },
    });
    router.service(v1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          yield create(v1alpha.ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse: reflection.answer(req) });
        }
      },
    });
  };
}
