/**
 * The binlog as a pull stream: @vlasky/zongji pushes events as they are
 * decoded; they wait here until the capture takes them, and the binlog
 * connection is paused while too many wait, so a large transaction never
 * sits in memory at once.
 *
 * Each event is paired with the reader's resume point as of that event
 * (zongji moves it only at transaction boundaries), so the capture can
 * checkpoint and compare positions without decoding them itself.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import ZongJi from "@vlasky/zongji";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { EndpointConfig } from "./config.js";
import { connectionOptions } from "./connection.js";
import { skimRow, type ReadValue, type RowImage, type UpdateImages } from "./row-image.js";

export interface Position {
  file: string;
  pos: number;
}

/** Where a binlog reader starts: a MariaDB GTID position when known (the server finds it in whichever file holds it), else the file and offset. */
export interface StartPoint extends Position {
  gtid?: string;
}

export interface BinlogItem {
  event: any;
  file: string;
  pos: number;
}

/**
 * zongji's rows events decode each row in `_fetchOneRow`; a reader of ours marks its ZongJi instance, and
 * for it the rows of an event are row images (RowImage, or UpdateImages for updates) skimmed by row-image.ts
 * instead. zongji does not export the event classes, so they are loaded from its files (the package's own
 * instances: the same files its index imports).
 */
export const SKIM_ROWS = Symbol("tributary.skimRows");
const zongjiLib = path.join(path.dirname(createRequire(import.meta.url).resolve("@vlasky/zongji")), "lib");
const rowsEvents = await import(pathToFileURL(path.join(zongjiLib, "rows_event.js")).href);
const readMysqlValue: ReadValue = (await import(pathToFileURL(path.join(zongjiLib, "common.js")).href)).readMysqlValue;
for (const cls of [rowsEvents.WriteRows, rowsEvents.DeleteRows]) {
  const decode = cls.prototype._fetchOneRow;
  cls.prototype._fetchOneRow = function (this: any, parser: any): unknown {
    if (!this._zongji[SKIM_ROWS]) return decode.call(this, parser);
    return skimRow(parser, this.tableMap[this.tableId], this.columns_present_bitmap, this._zongji, readMysqlValue) satisfies RowImage;
  };
}
{
  const cls = rowsEvents.UpdateRows;
  const decode = cls.prototype._fetchOneRow;
  cls.prototype._fetchOneRow = function (this: any, parser: any): unknown {
    if (!this._zongji[SKIM_ROWS]) return decode.call(this, parser);
    const map = this.tableMap[this.tableId];
    const before = skimRow(parser, map, this.columns_present_bitmap, this._zongji, readMysqlValue);
    const after = skimRow(parser, map, this.columns_present_bitmap2, this._zongji, readMysqlValue);
    return { before, after } satisfies UpdateImages;
  };
}

// Events, not rows: a rows event holds up to ~8 KB of row images.
const HIGH_WATER = 64;
const LOW_WATER = 16;

export class BinlogReader {
  private readonly z: any;
  private readonly items: BinlogItem[] = [];
  private head = 0;
  private error: Error | null = null;
  private wake: (() => void) | null = null;
  private paused = false;

  private constructor(cfg: EndpointConfig, from: StartPoint, serverId: number, tables: { schema: string; name: string }[]) {
    this.z = new ZongJi({
      ...connectionOptions(cfg),
      // Values in the forms the backfill's text protocol gives (see values.ts).
      dateStrings: true,
      timezone: "Z",
      jsonStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    this.z[SKIM_ROWS] = true;
    this.z.on("binlog", (event: any) => {
      this.items.push({ event, file: this.z.options.filename, pos: this.z.options.position });
      if (!this.paused && this.items.length - this.head >= HIGH_WATER && this.z.connection) {
        this.paused = true;
        this.z.connection.pause();
      }
      this.wake?.();
    });
    this.z.on("error", (err: Error) => {
      if (!this.error) this.error = describeBinlogError(err, from);
      this.wake?.();
    });
    // With a GTID position MariaDB ignores the file and offset (they still seed the reader's own resume pair
    // until the server's first rotate event names the file it found).
    // Only the captured tables' TABLE_MAP and row events are decoded (the binlog carries every database's
    // writes); transaction boundaries, GTIDs and statements (DDL) still arrive for all of them.
    // No prototype: a database may be called __proto__.
    const includeSchema: Record<string, string[]> = Object.create(null);
    for (const t of tables) (includeSchema[t.schema] ??= []).push(t.name);
    this.z.start({ serverId, filename: from.file, position: from.pos, includeSchema, ...(from.gtid ? { gtidSet: from.gtid } : {}) });
  }

  /** A reader from `from`, decoding the rows of `tables` only. */
  static start(cfg: EndpointConfig, from: StartPoint, serverId: number, tables: { schema: string; name: string }[]): BinlogReader {
    return new BinlogReader(cfg, from, serverId, tables);
  }

  /** Events decoded and not yet taken. */
  buffered(): number {
    return this.items.length - this.head;
  }

  /** The next event, or null after `timeoutMs` without one. Throws the reader's error. */
  async next(timeoutMs: number): Promise<BinlogItem | null> {
    if (this.head === this.items.length) {
      if (this.error) throw this.error;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
      if (this.head === this.items.length) {
        if (this.error) throw this.error;
        return null;
      }
    }
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as BinlogItem;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    if (this.paused && this.items.length - this.head <= LOW_WATER) {
      this.paused = false;
      this.z.connection?.resume();
    }
    return item;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      this.z.once("stopped", () => {
        clearTimeout(t);
        resolve();
      });
      try {
        this.z.stop();
      } catch {
        clearTimeout(t);
        resolve();
      }
    });
  }
}

/** Purged positions get a clear error naming the way out; others pass through. */
function describeBinlogError(err: Error, from: StartPoint): Error {
  const e = err as { errno?: number; code?: string; message?: string };
  if (e.errno === 1236 || /purged|could not find first log file|binlog truncated|Could not find GTID/i.test(String(e.message))) {
    const where = from.gtid ? `GTID position ${from.gtid}, binlog ${from.file || "?"} at ${from.pos}` : `${from.file} at ${from.pos}`;
    return new ConnectorError(
      `the binlog position of this capture (${where}) is no longer on the server: the binary logs holding it were purged, ` +
        `so changes since then are lost. Re-backfill every binding of the capture: increment each binding's \`backfill\` counter ` +
        `in the catalog and publish it (\`flowctl catalog publish --source flow.yaml\`), or, with \`tributary preview\`, run again ` +
        `without \`--initial-state\`. Then raise the server's binlog retention (binlog_expire_logs_seconds) so it outlasts the ` +
        `capture's longest pause. Server said: ${String(e.message)}`,
    );
  }
  return err;
}
