/**
 * Things a connector tells us it left at the source that outlive the task
 * and cost something until removed (a replication slot holds WAL forever).
 * A connector logs them with a `leftBehind` field; the preview repeats them
 * when it ends, so they are the last thing the user reads.
 */
import type { Fields, Logger } from "../log.js";

export interface LeftBehind {
  log: Logger;
  /** Each distinct `leftBehind` text, in the order first logged. */
  notes: Set<string>;
  /** Logs the notes once, as a warning; no-op when there are none. */
  report(): void;
}

export function watchLeftBehind(inner: Logger): LeftBehind {
  const notes = new Set<string>();
  const wrap = (l: Logger): Logger => {
    const seen = (fields?: Fields) => {
      if (typeof fields?.leftBehind === "string") notes.add(fields.leftBehind);
    };
    return {
      trace: (m, f) => (seen(f), l.trace(m, f)),
      debug: (m, f) => (seen(f), l.debug(m, f)),
      info: (m, f) => (seen(f), l.info(m, f)),
      warn: (m, f) => (seen(f), l.warn(m, f)),
      error: (m, f) => (seen(f), l.error(m, f)),
      enabled: (level) => l.enabled(level),
      with: (fields) => wrap(l.with(fields)),
    };
  };
  return {
    log: wrap(inner),
    notes,
    report() {
      for (const note of notes) process.stderr.write(`tributary preview: left behind at the source: ${note}\n`);
    },
  };
}
