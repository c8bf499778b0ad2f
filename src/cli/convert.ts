/**
 * `tributary convert --type T --from proto|json --to proto|json [--pretty]`:
 * reads one message from stdin and writes it to stdout in the other form.
 * Protobuf is raw, unframed bytes; JSON is Flow's JSON dialect (raw-JSON
 * fields embedded verbatim), one document, written compact plus a newline
 * or indented with --pretty.
 */
import { fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { fromFlowJson, toFlowJson } from "../codec/flow-json.js";
import { indentJson } from "../codec/json-layout.js";
import { findMessageType, messageTypeNames } from "../codec/registry.js";
import { parseArgs } from "./args.js";

const USAGE = "usage: tributary convert --type <full.Name> --from <proto|json> --to <proto|json> [--pretty]";

type Format = "proto" | "json";

function format(value: string | true | undefined, option: string): Format {
  if (value === "proto" || value === "json") return value;
  throw new Error(`--${option} must be "proto" or "json"${typeof value === "string" ? `, not ${JSON.stringify(value)}` : ""}\n${USAGE}`);
}

export async function convertCommand(args: string[]): Promise<number> {
  const parsed = parseArgs(args, { values: ["type", "from", "to"], flags: ["pretty", "help"] });
  if (parsed.options.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (parsed.positional.length > 0) throw new Error(`unexpected argument ${JSON.stringify(parsed.positional[0])}\n${USAGE}`);
  const typeName = parsed.options.type;
  if (typeof typeName !== "string") throw new Error(`--type is required\n${USAGE}`);
  const from = format(parsed.options.from, "from");
  const to = format(parsed.options.to, "to");
  const schema = findMessageType(typeName);
  if (!schema) {
    throw new Error(`unknown message type ${JSON.stringify(typeName)}; valid types are:\n  ${messageTypeNames().join("\n  ")}`);
  }
  const input = await readAll(process.stdin);
  const output = convert(schema, input, from, to, parsed.options.pretty === true);
  await write(output);
  return 0;
}

/** Converts one message; exported for tests. */
export function convert(schema: DescMessage, input: Buffer, from: Format, to: Format, pretty = false): Buffer {
  let msg;
  try {
    msg = from === "proto" ? fromBinary(schema, input) : fromFlowJson(schema, input.toString("utf8"));
  } catch (err) {
    throw new Error(`cannot decode ${schema.typeName} from ${from === "proto" ? "protobuf" : "JSON"} input: ${(err as Error).message}`);
  }
  if (to === "proto") return Buffer.from(toBinary(schema, msg));
  const text = toFlowJson(schema, msg);
  return Buffer.from((pretty ? indentJson(text) : text) + "\n", "utf8");
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

function write(data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
