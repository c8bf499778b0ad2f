/**
 * Reduction of two documents of the same key, following the collection
 * schema's `reduce` annotations. Without annotations the right-hand (newer)
 * document wins, as in Flow.
 *
 * Supported strategies: lastWriteWins, firstWriteWins, sum, minimize,
 * maximize, merge (objects by property, arrays by index), append. `set` and
 * `jsonSchemaMerge` are rejected when the collection is built.
 */
import { childShape, itemShape, type Shape } from "./schema-shape.js";
import { stringifyJson } from "./lossless-json.js";

export const SUPPORTED_STRATEGIES = new Set(["lastWriteWins", "firstWriteWins", "sum", "minimize", "maximize", "merge", "append"]);

/** Strategies used anywhere in `shape` that the harness cannot apply. */
export function unsupportedStrategies(shape: Shape, path = "", out: string[] = [], seen = new Set<Shape>()): string[] {
  if (seen.has(shape)) return out;
  seen.add(shape);
  if (shape.reduce && !SUPPORTED_STRATEGIES.has(shape.reduce)) out.push(`${path || "(root)"}: ${shape.reduce}`);
  for (const [k, p] of shape.properties) unsupportedStrategies(p.shape, `${path}/${k}`, out, seen);
  if (shape.additional) unsupportedStrategies(shape.additional, `${path}/*`, out, seen);
  for (const [i, t] of shape.tuple.entries()) unsupportedStrategies(t, `${path}/${i}`, out, seen);
  if (shape.items) unsupportedStrategies(shape.items, `${path}/-`, out, seen);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const TYPE_ORDER = ["null", "boolean", "number", "string", "array", "object"];
function typeRank(v: unknown): number {
  if (v === null) return 0;
  if (Array.isArray(v)) return 4;
  if (typeof v === "bigint") return 2; // an integer beyond 2^53 (see lossless-json.ts)
  return TYPE_ORDER.indexOf(typeof v === "object" ? "object" : typeof v);
}

const isNumeric = (v: unknown): v is number | bigint => typeof v === "number" || typeof v === "bigint";
const isInt = (v: number | bigint) => typeof v === "bigint" || Number.isInteger(v);

/** Compares two numbers exactly when both are integers, whatever their size. */
function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (isInt(a) && isInt(b)) {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return Number(a) - Number(b);
}

/** Adds exactly when both are integers; a sum that fits a safe integer stays a number. */
function addNumbers(a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a + b)) return a + b;
  if (isInt(a) && isInt(b)) {
    const sum = BigInt(a) + BigInt(b);
    return sum >= BigInt(Number.MIN_SAFE_INTEGER) && sum <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(sum) : sum;
  }
  return Number(a) + Number(b);
}

/** Total order over JSON values (null < booleans < numbers < strings < arrays < objects). */
export function compareJson(a: unknown, b: unknown): number {
  const ra = typeRank(a), rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (isNumeric(a)) return compareNumbers(a, b as number | bigint);
  if (typeof a === "boolean") return Number(a) - Number(b);
  if (typeof a === "string") return a < (b as string) ? -1 : a > (b as string) ? 1 : 0;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    for (let i = 0; i < Math.min(a.length, bb.length); i++) {
      const c = compareJson(a[i], bb[i]);
      if (c !== 0) return c;
    }
    return a.length - bb.length;
  }
  if (isObject(a)) {
    const x = stringifyJson(a), y = stringifyJson(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return 0;
}

/** Reduces `rhs` (newer) into `lhs` (older) at a location of shape `shape`. */
export function reduce(shape: Shape | undefined, lhs: unknown, rhs: unknown): unknown {
  if (lhs === undefined) return rhs;
  const strategy = shape?.reduce ?? "lastWriteWins";
  switch (strategy) {
    case "firstWriteWins":
      return lhs;
    case "sum":
      return isNumeric(lhs) && isNumeric(rhs) ? addNumbers(lhs, rhs) : rhs;
    case "minimize":
      return compareJson(rhs, lhs) < 0 ? rhs : lhs;
    case "maximize":
      return compareJson(rhs, lhs) > 0 ? rhs : lhs;
    case "append":
      return Array.isArray(lhs) && Array.isArray(rhs) ? [...lhs, ...rhs] : rhs;
    case "merge":
      if (isObject(lhs) && isObject(rhs)) {
        const out: Record<string, unknown> = { ...lhs };
        for (const [k, v] of Object.entries(rhs)) {
          out[k] = k in lhs ? reduce(shape ? childShape(shape, k).shape : undefined, lhs[k], v) : v;
        }
        return out;
      }
      if (Array.isArray(lhs) && Array.isArray(rhs)) {
        const out = [...lhs];
        for (let i = 0; i < rhs.length; i++) out[i] = i < lhs.length ? reduce(shape ? itemShape(shape, i) : undefined, lhs[i], rhs[i]) : rhs[i];
        return out;
      }
      return rhs;
    default:
      return rhs;
  }
}
