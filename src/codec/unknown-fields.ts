/**
 * Finds the fields of a decoded message (and of the messages it holds) that
 * our protos do not define: protobuf field numbers kept by protobuf-es in
 * `$unknown`, and JSON keys skipped by the Flow JSON decoder. A newer runtime
 * sends such fields; they must not fail a connector, nor vanish unnoticed.
 */
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { unknownJsonKeys } from "./flow-json.js";

export interface UnknownField {
  /** Full name of the message holding it, e.g. `capture.Request.Open`. */
  message: string;
  /** Its protobuf field number, or its JSON key when it came as JSON. */
  field: number | string;
}

const messageFields = new WeakMap<DescMessage, DescField[]>();

/** Fields that may hold messages: the only places unknown fields can hide below the top. */
function nestedFields(desc: DescMessage): DescField[] {
  let fields = messageFields.get(desc);
  if (!fields) {
    fields = desc.fields.filter((f) => f.message !== undefined && !f.message.typeName.startsWith("google.protobuf."));
    messageFields.set(desc, fields);
  }
  return fields;
}

export function unknownFields(desc: DescMessage, msg: object, out: UnknownField[] = []): UnknownField[] {
  const unknown = (msg as { $unknown?: Array<{ no: number }> }).$unknown;
  if (unknown) for (const u of unknown) out.push({ message: desc.typeName, field: u.no });
  for (const key of unknownJsonKeys(msg)) out.push({ message: desc.typeName, field: key });
  for (const f of nestedFields(desc)) {
    const v = (msg as Record<string, unknown>)[f.localName];
    if (v === undefined || v === null) continue;
    const child = f.message!;
    if (f.fieldKind === "message") unknownFields(child, v as object, out);
    else if (f.fieldKind === "list") for (const item of v as object[]) unknownFields(child, item, out);
    else if (f.fieldKind === "map") for (const item of Object.values(v as Record<string, object>)) unknownFields(child, item, out);
  }
  return out;
}
