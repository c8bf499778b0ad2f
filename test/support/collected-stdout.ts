/**
 * A Writable that keeps every chunk written to it: the stdout a stdio
 * transport test hands to runStdio, read back as frames afterwards.
 */
import { Writable } from "node:stream";

export interface CollectedStdout {
  stdout: Writable;
  /** The chunks written so far, in order (a test may splice them off as it reads). */
  chunks: Buffer[];
  /** Everything written so far, as one buffer. */
  bytes(): Buffer;
}

export function collectedStdout(): CollectedStdout {
  const chunks: Buffer[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { stdout, chunks, bytes: () => Buffer.concat(chunks) };
}
