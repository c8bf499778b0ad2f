/**
 * One page of a resource's listing: the request URL for a page cursor (and
 * the incremental `since` value), and from the response its records and the
 * cursor of the next page, by the resource's pagination strategy.
 */
import { ConnectorError } from "../../src/sdk/errors.js";
import { valueAtPointer } from "../../src/sdk/bindings.js";
import { resourceUrl, type ResourceDef } from "./config.js";
import { nextLink } from "./link-header.js";
import type { JsonResponse } from "./http.js";

/** Where the next page is: a body cursor, a page number or a Link URL, by strategy. */
export type PageCursor = string | number;

export interface ReadPage {
  records: unknown[];
  next?: PageCursor;
}

/** The URL of the page at `page` (the first when undefined), sending `since` when the resource is incremental. */
export function pageUrl(base: string, def: ResourceDef, page: PageCursor | undefined, since: string | number | undefined): URL {
  const p = def.pagination;
  if (p.type === "link" && page !== undefined) return sameOrigin(new URL(String(page)), base, def.name);
  const url = resourceUrl(base, def.path);
  for (const [k, v] of Object.entries(def.params)) url.searchParams.set(k, v);
  if (def.cursor && since !== undefined) url.searchParams.set(def.cursor.param, String(since));
  if (p.type === "cursor" && page !== undefined) url.searchParams.set(p.param, String(page));
  if (p.type === "page") {
    url.searchParams.set(p.param, String(page ?? p.first));
    url.searchParams.set(p.size_param, String(p.size));
  }
  return url;
}

/** The auth header must not follow a Link to another server. */
function sameOrigin(url: URL, base: string, resource: string): URL {
  if (url.origin !== new URL(base).origin) {
    throw new ConnectorError(`resource ${resource}: the Link header's next page is on another origin (${url.origin}); only links under base_url are followed`);
  }
  return url;
}

/** The records of a response and the cursor of the page after it (absent on the last page). */
export function readPage(def: ResourceDef, base: string, requested: URL, page: PageCursor | undefined, res: JsonResponse): ReadPage {
  const records = def.records === "" ? res.body : valueAtPointer(res.body, def.records);
  if (!Array.isArray(records)) {
    throw new ConnectorError(`resource ${def.name}: the response to GET ${requested.pathname} has no array of records at ${JSON.stringify(def.records)}`);
  }
  for (const [i, r] of records.entries()) {
    for (const k of def.key) {
      const v = valueAtPointer(r, k);
      if (v === undefined || v === null) throw new ConnectorError(`resource ${def.name}: record ${i} of GET ${requested.pathname} has no key value at ${k}`);
    }
  }
  const p = def.pagination;
  switch (p.type) {
    case "none":
      return { records };
    case "cursor": {
      const next = valueAtPointer(res.body, p.next_pointer);
      if (next === undefined || next === null || next === "") return { records };
      if (typeof next !== "string" && typeof next !== "number") {
        throw new ConnectorError(`resource ${def.name}: the next-page cursor at ${p.next_pointer} is neither a string nor a number`);
      }
      if (next === page) throw new ConnectorError(`resource ${def.name}: the next-page cursor at ${p.next_pointer} repeats the current one; the listing would never end`);
      return { records, next };
    }
    case "page": {
      const current = typeof page === "number" ? page : p.first;
      return records.length >= p.size ? { records, next: current + 1 } : { records };
    }
    case "link": {
      const next = nextLink(res.link, requested.href);
      if (next === undefined) return { records };
      if (next === requested.href) throw new ConnectorError(`resource ${def.name}: the Link header's next page is the current one; the listing would never end`);
      sameOrigin(new URL(next), base, def.name);
      return { records, next };
    }
  }
}
