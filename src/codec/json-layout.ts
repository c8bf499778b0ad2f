/**
 * Re-lays out JSON text without parsing it into JS values, so numbers and
 * strings come out exactly as they went in (big integers, long decimals,
 * escapes, key order).
 */
import { JsonScanner } from "./json-scan.js";

/**
 * Removes insignificant whitespace. Throws (naming `what`) unless `text` is
 * exactly one JSON value.
 */
export function compactJson(text: string, what = "JSON"): string {
  const sc = new JsonScanner(text, what);
  sc.skipValue();
  sc.end();
  let out = "";
  let from = 0; // start of the pending run to copy
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip over the string; its contents are copied with the run.
      for (i++; ; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      out += text.slice(from, i);
      from = i + 1;
    }
  }
  return out + text.slice(from);
}

/** Indents JSON text by `indent` per level; empty objects and arrays stay `{}` / `[]`. */
export function indentJson(text: string, indent = "  "): string {
  // Check the grammar first; the loop below then only has to lay it out.
  const sc = new JsonScanner(text, "JSON");
  sc.skipValue();
  sc.end();

  let out = "";
  let depth = 0;
  const n = text.length;
  let i = 0;
  const newline = (d: number) => "\n" + indent.repeat(d);
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      i++;
      continue;
    }
    if (c === 0x22) {
      // Copy the string token verbatim.
      let j = i + 1;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      let j = i + 1;
      while (/\s/.test(text[j] ?? "")) j++;
      if (text.charCodeAt(j) === close) {
        out += c === 0x7b ? "{}" : "[]";
        i = j + 1;
        continue;
      }
      depth++;
      out += text[i] + newline(depth);
      i++;
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      depth--;
      out += newline(depth) + text[i];
      i++;
      continue;
    }
    if (c === 0x2c) {
      out += "," + newline(depth);
      i++;
      continue;
    }
    if (c === 0x3a) {
      out += ": ";
      i++;
      continue;
    }
    // Numbers and literals: copy up to the next delimiter.
    let j = i + 1;
    while (j < n && !/[\s,:\]}]/.test(text[j]!)) j++;
    out += text.slice(i, j);
    i = j;
  }
  return out;
}
