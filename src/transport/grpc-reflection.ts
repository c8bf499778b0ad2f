/**
 * What server reflection describes: the served connector service with every
 * file it depends on (flow, consumer and broker protocols, well-known
 * types), plus the health service, so that grpcurl and `buf curl` can list
 * and call methods with JSON bodies and no .proto files at hand.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import * as protoLoader from "@grpc/proto-loader";
import type { ConnectorService } from "./grpc-services.js";

export const HEALTH_SERVICE = "grpc.health.v1.Health";

/** `file` and its transitive imports, dependencies first. */
function withDependencies(file: DescFile): FileDescriptorProto[] {
  const out = new Map<string, DescFile>();
  const visit = (f: DescFile) => {
    if (out.has(f.name)) return;
    for (const dep of f.dependencies) visit(dep);
    out.set(f.name, f);
  };
  visit(file);
  return [...out.values()].map((f) => f.proto);
}

/**
 * grpc/health/v1/health.proto as served by grpc-health-check (Check, Watch,
 * List). Written out here because the copy proto-loader builds from the
 * package's .proto file is mangled (file renamed after the package, map
 * entry misnamed) and Go clients such as buf curl reject it.
 */
function healthFile(): FileDescriptorProto {
  const field = (name: string, type: Type, typeName?: string, label = Label.OPTIONAL) => ({
    name,
    number: 1,
    label,
    type,
    typeName,
    jsonName: name,
  });
  const pkg = ".grpc.health.v1";
  return create(FileDescriptorProtoSchema, {
    name: "grpc/health/v1/health.proto",
    package: "grpc.health.v1",
    syntax: "proto3",
    messageType: [
      { name: "HealthListRequest" },
      {
        name: "HealthListResponse",
        field: [field("statuses", Type.MESSAGE, `${pkg}.HealthListResponse.StatusesEntry`, Label.REPEATED)],
        nestedType: [
          {
            name: "StatusesEntry",
            field: [
              field("key", Type.STRING),
              { ...field("value", Type.MESSAGE, `${pkg}.HealthCheckResponse`), number: 2 },
            ],
            options: { mapEntry: true },
          },
        ],
      },
      { name: "HealthCheckRequest", field: [field("service", Type.STRING)] },
      {
        name: "HealthCheckResponse",
        field: [field("status", Type.ENUM, `${pkg}.HealthCheckResponse.ServingStatus`)],
        enumType: [
          {
            name: "ServingStatus",
            value: ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"].map((name, number) => ({ name, number })),
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          { name: "Check", inputType: `${pkg}.HealthCheckRequest`, outputType: `${pkg}.HealthCheckResponse` },
          {
            name: "Watch",
            inputType: `${pkg}.HealthCheckRequest`,
            outputType: `${pkg}.HealthCheckResponse`,
            serverStreaming: true,
          },
          { name: "List", inputType: `${pkg}.HealthListRequest`, outputType: `${pkg}.HealthListResponse` },
        ],
      },
    ],
  });
}

/**
 * A package definition whose entries carry exactly `files`.
 *
 * proto-loader rebuilds descriptors through protobufjs, which drops
 * `json_name`; the connector protocols rely on it (e.g. `config_json` is
 * `config` in JSON), so every entry is given the original descriptors and
 * proto-loader only supplies the definition's shape.
 */
function exactPackage(files: FileDescriptorProto[]): protoLoader.PackageDefinition {
  const set = create(FileDescriptorSetSchema, { file: files });
  const pkg = protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(toBinary(FileDescriptorSetSchema, set)), {});
  const exact = files.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
  for (const entry of Object.values(pkg)) {
    if ("fileDescriptorProtos" in entry) (entry as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos = exact;
  }
  return pkg;
}

/** The package definition for @grpc/reflection: the connector service and health. */
export function reflectionPackage(service: ConnectorService): protoLoader.PackageDefinition {
  return { ...exactPackage([healthFile()]), ...exactPackage(withDependencies(service.file)) };
}
