/**
 * Logs, once per message type and field, that a request carried a field our
 * protos do not know: a newer runtime is talking to us. Never an error.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { unknownFields } from "../codec/unknown-fields.js";
import type { Logger } from "../log.js";

export class UnknownFieldLog {
  private readonly seen = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** Logs fields of `msg` not logged before; true if it has any unknown field. */
  note(desc: DescMessage, msg: object): boolean {
    const found = unknownFields(desc, msg);
    for (const u of found) {
      const id = `${u.message}#${u.field}`;
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      this.log.debug("request has a field this connector's protocol version does not know; ignoring it", {
        message: u.message,
        field: u.field,
      });
    }
    return found.length > 0;
  }
}
