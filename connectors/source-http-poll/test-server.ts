/**
 * A real HTTP server for the tests (node:http on 127.0.0.1, port 0): one
 * listing of items served three ways, each paginated in its own style, and
 * filtered by `since` (inclusive) on `updated` when asked:
 *
 *   GET /api/cursor/items?after=<c>&since=<n>   {"data": [...], "meta": {"next": "<c>"}}
 *   GET /api/page/items?page=<n>&per_page=<s>   {"items": [...]}
 *   GET /api/link/items?offset=<n>               [...] with Link: <...>; rel="next"
 *
 * Every request needs the header X-Api-Key: <key>. Queued failures answer
 * the next requests with a status (and Retry-After) instead.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface Item {
  id: number;
  updated: number;
  v: string;
}

export interface Failure {
  status: number;
  retryAfter?: string;
}

export class ItemServer {
  items: Item[];
  /** Page size of the cursor and link styles (the page style takes per_page). */
  pageSize = 7;
  /** Answered to the next requests, in order. */
  failures: Failure[] = [];
  /** Each request: when, its path and query, and its X-Api-Key header. */
  readonly requests: { at: number; url: URL; key: string | undefined }[] = [];
  /** When set, requests wait this long before they are answered. */
  delayMs = 0;
  private server!: Server;
  port = 0;

  constructor(
    readonly apiKey: string,
    count: number,
  ) {
    this.items = Array.from({ length: count }, (_, i) => ({ id: i + 1, updated: 1000 + i, v: `item ${i + 1}` }));
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** Listens on 127.0.0.1:`port` (0: a free one). */
  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Changes item `id` (a new `v` and a larger `updated`), or adds it. */
  touch(id: number): Item {
    const updated = Math.max(...this.items.map((i) => i.updated)) + 1;
    const item = { id, updated, v: `item ${id} at ${updated}` };
    const at = this.items.findIndex((i) => i.id === id);
    if (at >= 0) this.items[at] = item;
    else this.items.push(item);
    return item;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.baseUrl);
    const key = req.headers["x-api-key"] as string | undefined;
    this.requests.push({ at: Date.now(), url, key });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    const failure = this.failures.shift();
    if (failure) return send(failure.status, { error: "try later" }, failure.retryAfter ? { "retry-after": failure.retryAfter } : {});
    if (key !== this.apiKey) return send(401, { error: "bad key" });
    const since = url.searchParams.get("since");
    const listing = this.items.filter((i) => since === null || i.updated >= Number(since)).sort((a, b) => a.id - b.id);
    switch (url.pathname) {
      case "/api/cursor/items": {
        const after = Number(url.searchParams.get("after") ?? 0);
        const page = listing.filter((i) => i.id > after).slice(0, this.pageSize);
        const more = listing.some((i) => i.id > (page.at(-1)?.id ?? Infinity));
        return send(200, { data: page, meta: more ? { next: String(page.at(-1)!.id) } : {} });
      }
      case "/api/page/items": {
        const n = Number(url.searchParams.get("page"));
        const size = Number(url.searchParams.get("per_page"));
        return send(200, { items: listing.slice((n - 1) * size, n * size) });
      }
      case "/api/link/items": {
        const offset = Number(url.searchParams.get("offset") ?? 0);
        const page = listing.slice(offset, offset + this.pageSize);
        const next = new URL(url);
        next.searchParams.set("offset", String(offset + this.pageSize));
        const link = offset + this.pageSize < listing.length ? `<${next.pathname}${next.search}>; rel="next", </api/link/items>; rel="first"` : `</api/link/items>; rel="first"`;
        return send(200, page, { link });
      }
      default:
        return send(404, { error: "no such listing" });
    }
  }
}
