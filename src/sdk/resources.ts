/**
 * The resource capture layer: a capture declared as resources, each read by
 * `fetchPage` (backfill, page by page) and/or `fetchChanges` (incremental),
 * while the layer owns the rest — discovery from the declarations, per-binding
 * state under each state key, a checkpoint after every fetch, interleaving of
 * backfill pages with change reads, a new backfill when the binding's
 * backfill counter is bumped, the backfill begin/complete markers, retries of
 * transient errors, and a bounded mode that ends once every resource caught up.
 */
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import { ConnectorError } from "./errors.js";
import { SENT } from "./capture.js";
import { bindingStateUpdate, bindingState } from "./binding-state.js";
import { resourcePathOf } from "./bindings.js";
import { currentBackfill, entryPatch, type PagedEntry } from "./resource-state.js";
import { withRetry, type RetryOptions } from "./retry.js";
import type { CaptureBinding, CaptureConnector, CaptureOutput, Context, JsonSchema } from "./types.js";

/** One page of a backfill; `next` absent means it was the last. */
export interface Page<P = unknown> {
  docs: unknown[];
  next?: P;
}

/** The changes read from `cursor` on. */
export interface Changes<C = unknown> {
  docs: unknown[];
  /** Where the next read starts. */
  cursor: C;
  /** Nothing more is to be read now (default: when `docs` is empty). */
  caughtUp?: boolean;
}

export interface FetchContext extends Context {
  binding: CaptureBinding;
}

export interface Resource<C = any, P = any> {
  name: string;
  schema: JsonSchema;
  key: string[];
  /** The resource config discovered for it (default `{name}`). */
  resourceConfig?: Record<string, unknown>;
  isFallbackKey?: boolean;
  /** Reads one page of the backfill, from the start when `cursor` is undefined. */
  fetchPage?(cursor: P | undefined, ctx: FetchContext): Promise<Page<P>>;
  /** Reads changes from `cursor` on. */
  fetchChanges?(cursor: C, ctx: FetchContext): Promise<Changes<C>>;
  /** The changes cursor of a fresh start, taken before the backfill's first page (default `{}`). */
  initialCursor?(ctx: FetchContext): C | Promise<C>;
  /** The wait after a read that caught up, in ms (default 1000). */
  intervalMs?: number;
}

export interface ResourceCapture<C = any, R = any>
  extends Omit<CaptureConnector<C, R>, "protocol" | "discover" | "open" | "resourceConfigSchema" | "resourcePathPointers"> {
  /** Default: `{name}`, a required non-empty string. */
  resourceConfigSchema?: JsonSchema;
  /** Default: `["/name"]`. */
  resourcePathPointers?: string[];
  /**
   * The resources. At Open `bindings` lists the task's bindings, for
   * connectors whose resources are open-ended (one per binding).
   */
  resources(config: C, ctx: Context, bindings?: CaptureBinding<R>[]): Resource[] | Promise<Resource[]>;
  /** End the session once every resource has caught up (a batch read). Default: run until stopped. */
  bounded?: boolean | ((config: C) => boolean);
  retry?: RetryOptions;
}

const DEFAULT_RESOURCE_SCHEMA: JsonSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  properties: { name: { title: "Name", type: "string", minLength: 1 } },
  required: ["name"],
};

const configOf = (r: Resource) => r.resourceConfig ?? { name: r.name };

/** Builds a capture connector from resource declarations. */
export function resourceCapture<C, R>(def: ResourceCapture<C, R>): CaptureConnector<C, R> {
  const { resources, bounded, retry, ...rest } = def;
  const pointers = def.resourcePathPointers ?? ["/name"];
  return {
    ...rest,
    protocol: "capture",
    resourceConfigSchema: def.resourceConfigSchema ?? DEFAULT_RESOURCE_SCHEMA,
    resourcePathPointers: pointers,
    async discover(config, ctx) {
      return (await resources(config, ctx)).map((r) => ({
        recommendedName: r.name,
        resourceConfig: configOf(r) as R,
        documentSchema: r.schema,
        key: r.key,
        ...(r.isFallbackKey ? { isFallbackKey: true } : {}),
      }));
    },
    async open(req, out, ctx) {
      const declared = await resources(req.config, ctx, req.bindings);
      const byPath = new Map(declared.map((r) => [JSON.stringify(resourcePathOf(configOf(r), pointers)), r]));
      const runs = req.bindings.map((b, i) => {
        const resource = byPath.get(JSON.stringify(b.resourcePath));
        if (!resource) throw new ConnectorError(`binding ${i} names resource ${JSON.stringify(b.resourcePath)}, which this connector does not declare`);
        return new BindingRun(i, b, resource, req.state, out, { ...ctx, binding: b }, retry ?? {});
      });
      await out.opened();
      const isBounded = typeof bounded === "function" ? bounded(req.config) : bounded === true;
      await runAll(runs, isBounded, ctx.signal);
    },
  };
}

async function runAll(runs: BindingRun[], bounded: boolean, signal: AbortSignal): Promise<void> {
  for (const r of runs) await r.start();
  while (!signal.aborted) {
    let worked = false;
    for (const r of runs) {
      if (signal.aborted) return;
      worked = (await r.step(bounded)) || worked;
    }
    if (bounded && runs.every((r) => r.caughtUp())) return;
    const due = Math.min(...runs.map((r) => r.dueAt));
    if (worked) await setImmediate();
    else if (due === Infinity && bounded) return; // nothing left to read, ever
    else await sleep(due === Infinity ? 2 ** 31 - 1 : Math.max(0, due - Date.now()), undefined, { signal }).catch(() => {});
  }
}

/** One binding's reads and state. */
class BindingRun {
  private entry: unknown;
  private readonly key: string;
  /** When the next change read is due (ms since the epoch); Infinity: never. */
  dueAt = 0;
  private changesCaughtUp = false;
  /** The initial changes cursor of an incremental-only resource, until its first checkpoint. */
  private initial: unknown;
  /** Documents sent by the last fetch, not yet checkpointed. */
  private emitted = 0;

  constructor(
    private readonly index: number,
    private readonly binding: CaptureBinding,
    private readonly resource: Resource,
    state: unknown,
    private readonly out: CaptureOutput,
    private readonly ctx: FetchContext,
    private readonly retry: RetryOptions,
  ) {
    this.key = binding.stateKey || resource.name;
    this.entry = bindingState(state, this.key);
    if (!resource.fetchPage && !resource.fetchChanges) throw new ConnectorError(`resource ${resource.name} declares neither fetchPage nor fetchChanges`);
    if (!resource.fetchChanges) this.dueAt = Infinity;
  }

  private get paged(): PagedEntry | undefined {
    return this.resource.fetchPage ? currentBackfill(this.entry, this.binding.backfill) : undefined;
  }

  private update(next: unknown) {
    const patch = entryPatch(this.entry, next);
    this.entry = next;
    return patch === undefined ? undefined : bindingStateUpdate([[this.key, patch]]);
  }

  private fetch<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(`resource ${this.resource.name}: ${what}`, fn, this.retry, this.ctx.log, this.ctx.signal);
  }

  /** Begins a backfill, or an incremental read from the initial cursor, when the entry is not of this backfill. */
  async start(): Promise<void> {
    const r = this.resource;
    const fresh = r.fetchPage ? !this.paged : this.entry === undefined;
    if (!fresh) {
      if (this.paged?.pagesDone && !this.paged.backfilled) await this.complete();
      return;
    }
    const changes = r.fetchChanges ? await this.fetch("initialCursor", async () => (r.initialCursor ? r.initialCursor(this.ctx) : {})) : undefined;
    if (!r.fetchPage) {
      this.initial = changes;
      return;
    }
    const begun: PagedEntry = { counter: this.binding.backfill, ...(changes !== undefined ? { changes } : {}) };
    await this.out.backfillBegin(this.index, this.update(begun) ?? { updated: {}, mergePatch: true });
  }

  private async complete(): Promise<void> {
    const { page: _, pagesDone: __, ...rest } = this.paged!;
    await this.out.backfillComplete(this.index, this.update({ ...rest, backfilled: true }));
  }

  caughtUp(): boolean {
    const p = this.paged;
    return !!(!this.resource.fetchPage || p?.backfilled) && (!this.resource.fetchChanges || this.changesCaughtUp);
  }

  /** Reads one page and/or one batch of changes, as due; says whether anything was read. */
  async step(bounded: boolean): Promise<boolean> {
    let worked = false;
    const p = this.paged;
    if (p && !p.pagesDone && !p.backfilled) {
      const page = await this.fetch("fetchPage", () => this.resource.fetchPage!(p.page, this.ctx));
      await this.emit(page.docs);
      const { page: _, ...rest } = p;
      const last = page.next === undefined;
      await this.checkpoint(last ? { ...rest, pagesDone: true } : { ...rest, page: page.next });
      if (last) await this.complete();
      worked = true;
    }
    if (Date.now() >= this.dueAt) {
      const from = p ? p.changes : (this.entry ?? this.initial);
      const got = await this.fetch("fetchChanges", () => this.resource.fetchChanges!(from, this.ctx));
      await this.emit(got.docs);
      await this.checkpoint(p ? { ...this.paged!, changes: got.cursor } : got.cursor);
      // Bounded reads stop at the first catch-up after the backfill is complete.
      const caughtUp = got.caughtUp ?? got.docs.length === 0;
      const final = caughtUp && bounded && (!this.resource.fetchPage || !!this.paged?.backfilled);
      this.changesCaughtUp ||= final;
      this.dueAt = !caughtUp ? 0 : final ? Infinity : Date.now() + (this.resource.intervalMs ?? 1000);
      worked = true;
    }
    return worked;
  }

  private async emit(docs: unknown[]): Promise<void> {
    // Await only when the sink pushes back: a microtask per document would cost more than encoding it.
    for (const d of docs) {
      const wait = this.out.document(this.index, d);
      if (wait !== SENT) await wait;
    }
    this.emitted = docs.length;
  }

  private async checkpoint(next: unknown): Promise<void> {
    const update = this.update(next);
    if (update || this.emitted > 0) await this.out.checkpoint(update ?? { updated: {}, mergePatch: true });
  }
}
