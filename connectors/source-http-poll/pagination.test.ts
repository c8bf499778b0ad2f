/**
 * The parts of a request that need no server: RFC 8288 Link headers,
 * Retry-After values, page URLs, and what ends a listing or is refused.
 */
import { describe, expect, it } from "vitest";
import { nextLink } from "./link-header.js";
import { retryAfterMs } from "../../src/net/retry-after.js";
import { pageUrl, readPage } from "./pages.js";
import { normalizeResource, resourceUrl, type ResourceDef } from "./config.js";

const base = "https://api.example.com/v2";
const def = (d: Partial<ResourceDef> & Record<string, unknown>) => normalizeResource({ name: "r", path: "/items", ...d } as ResourceDef);

describe("Link header", () => {
  it("finds rel=next among several links and relation types, resolving relative targets", () => {
    const req = "https://api.example.com/v2/items?page=1";
    expect(nextLink('<https://api.example.com/v2/items?page=2>; rel="next", <https://api.example.com/v2/items?page=9>; rel="last"', req)).toBe("https://api.example.com/v2/items?page=2");
    expect(nextLink('</v2/items?page=9>; rel="last", <?page=2>; title="a, b; c"; rel="Prev NEXT"', req)).toBe("https://api.example.com/v2/items?page=2");
    expect(nextLink("<items?page=3>; rel=next", req)).toBe("https://api.example.com/v2/items?page=3");
    expect(nextLink('<https://api.example.com/v2/items?page=1>; rel="prev"', req)).toBeUndefined();
    expect(nextLink(null, req)).toBeUndefined();
  });
});

describe("Retry-After", () => {
  it("reads delta-seconds and HTTP dates", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs("Sun, 06 Dec 2026 12:00:10 GMT", Date.parse("Sun, 06 Dec 2026 12:00:00 GMT"))).toBe(10_000);
    expect(retryAfterMs("soon")).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

describe("pages", () => {
  it("builds page URLs under the base path with the resource's parameters, the since value and the page", () => {
    const r = def({ params: { status: "open" }, pagination: { type: "page", size: 50 } as never, cursor: { field: "/updated", param: "updated_since" } });
    expect(pageUrl(base, r, undefined, "2026-01-01T00:00:00Z").href).toBe("https://api.example.com/v2/items?status=open&updated_since=2026-01-01T00%3A00%3A00Z&page=1&per_page=50");
    expect(pageUrl(base, r, 3, undefined).searchParams.get("page")).toBe("3");
    const c = def({ pagination: { type: "cursor", next_pointer: "/next", param: "after" } });
    expect(pageUrl(`${base}/`, c, "abc", undefined).href).toBe("https://api.example.com/v2/items?after=abc");
    expect(() => resourceUrl("https://me:pa55word@api.example.com", "/x")).toThrow(/^endpoint config \/base_url: holds credentials, which fetch will not send; use auth_header and auth_value$/);
    expect(() => resourceUrl("not a url", "/x")).toThrow(/base_url: is not a valid URL/);
  });

  it("ends a listing at an absent, null or empty next cursor, and at a short page", () => {
    const c = def({ records: "/data", pagination: { type: "cursor", next_pointer: "/next", param: "after" } });
    const url = new URL(`${base}/items`);
    for (const next of [undefined, null, ""]) expect(readPage(c, base, url, undefined, { body: { data: [{ id: 1 }], next }, link: null }).next).toBeUndefined();
    expect(readPage(c, base, url, undefined, { body: { data: [{ id: 1 }], next: "n2" }, link: null }).next).toBe("n2");
    const p = def({ pagination: { type: "page", size: 2 } as never });
    expect(readPage(p, base, url, 4, { body: [{ id: 1 }, { id: 2 }], link: null }).next).toBe(5);
    expect(readPage(p, base, url, 4, { body: [{ id: 1 }], link: null }).next).toBeUndefined();
  });

  it("refuses what would leak the auth header or never end, naming the resource", () => {
    const l = def({ pagination: { type: "link" } });
    const url = new URL(`${base}/items`);
    expect(() => readPage(l, base, url, undefined, { body: [], link: '<https://evil.example.net/items?p=2>; rel="next"' })).toThrow(/resource r: the Link header's next page is on another origin \(https:\/\/evil.example.net\)/);
    expect(() => readPage(l, base, url, undefined, { body: [], link: `<${url.href}>; rel="next"` })).toThrow(/resource r: .* is the current one/);
    const c = def({ records: "/data", pagination: { type: "cursor", next_pointer: "/next", param: "after" } });
    expect(() => readPage(c, base, url, "same", { body: { data: [], next: "same" }, link: null })).toThrow(/^resource r: the next-page cursor at \/next repeats the current one/);
    expect(() => readPage(def({ records: "/data" }), base, url, undefined, { body: { data: { id: 1 } }, link: null })).toThrow(/resource r: the response to GET \/v2\/items has no array of records at "\/data"/);
    expect(() => readPage(def({}), base, url, undefined, { body: [{ id: 1 }, { name: "secret doc" }], link: null })).toThrow(/^resource r: record 1 of GET \/v2\/items has no key value at \/id$/);
  });
});
