/**
 * The target of an RFC 8288 `Link` header's rel="next" link, e.g.
 * `<https://api.example.com/items?page=2>; rel="next", <...>; rel="last"`.
 * A rel may list several relation types (`rel="next last"`), compared
 * case-insensitively; the target is resolved against the request's URL.
 */
export function nextLink(header: string | null, requestUrl: string): string | undefined {
  if (!header) return undefined;
  // <target> followed by ;-separated parameters, up to the next comma outside <> and quotes.
  const re = /<([^>]*)>((?:\s*;\s*[^;,=\s]+(?:\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,\s]*))?)*)/g;
  for (const m of header.matchAll(re)) {
    const params = m[2] ?? "";
    for (const p of params.matchAll(/;\s*([^;,=\s]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?/g)) {
      if (p[1]!.toLowerCase() !== "rel" || p[2] === undefined) continue;
      const value = p[2].startsWith('"') ? p[2].slice(1, -1).replace(/\\(.)/g, "$1") : p[2];
      if (value.toLowerCase().split(/\s+/).includes("next")) return new URL(m[1]!, requestUrl).href;
    }
  }
  return undefined;
}
