/**
 * The load statement's rows, (int4 binding, text document) in binary COPY,
 * gathered into batches of Loaded documents: the documents of one socket
 * read go to the SDK's loadedBatch() as spans of the bytes they were read
 * into, so a row costs neither a Buffer view, nor a RawJsonBytes, nor a
 * call through the SDK, the metrics wrapper and the transport each; the
 * transport frames the batch in one pass. A batch ends where the binding
 * or the buffer changes (a row that straddled two reads comes in a joined
 * copy), and at the end of each read (flush()).
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { loadedBatch } from "../../src/sdk/materialize.js";

type Loaded = (binding: number, doc: unknown) => void | Promise<void>;

export class LoadedRows {
  /** Documents found so far. */
  found = 0;
  private starts = new Int32Array(1024);
  private ends = new Int32Array(1024);
  private count = 0;
  private buf: Buffer | undefined;
  private binding = 0;

  constructor(
    private readonly loaded: Loaded,
    /** Names binding `b`'s table, for errors. */
    private readonly tableOf: (b: number) => string | undefined,
  ) {}

  /** One row as BinaryCopyReader.pushSpans hands it over; a promise when the batch it ended must be waited for. */
  readonly row = (buf: Buffer, spans: Int32Array, n: number): void | Promise<void> => {
    const at = spans[0]!;
    if (n !== 2 || spans[1] !== 4) throw new Error("unexpected row shape in the load query's output");
    const binding = (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
    const start = spans[2]!;
    const len = spans[3]!;
    if (len < 0) throw new ConnectorError(`binding ${binding} (${this.tableOf(binding)}): a stored row's document column is NULL`);
    let wait: void | Promise<void> = undefined;
    if (this.count > 0 && (buf !== this.buf || binding !== this.binding || this.count === this.starts.length)) wait = this.flush();
    const k = this.count++;
    this.starts[k] = start;
    this.ends[k] = start + len;
    this.buf = buf;
    this.binding = binding;
    this.found++;
    return wait;
  };

  /** Hands the gathered documents on (the SDK copies them before it returns); the promise to await, if any. */
  flush(): void | Promise<void> {
    const count = this.count;
    if (count === 0) return;
    this.count = 0;
    const buf = this.buf!;
    this.buf = undefined;
    return loadedBatch(this.loaded, this.binding, buf, this.starts, this.ends, count);
  }
}
