/**
 * `tributary new <name> --capture|--materialize [--dir D] [--tributary SPEC]`:
 * writes a standalone connector project that depends on tributary, with a
 * working example, tests through tributary/testing, a catalog for
 * `tributary preview`, a Dockerfile and a README.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "./args.js";
import { repoRoot } from "../harness/catalog.js";
import { commonFiles } from "./scaffold/project.js";
import { captureFiles } from "./scaffold/capture.js";
import { materializeFiles } from "./scaffold/materialize.js";

const USAGE = "usage: tributary new <name> --capture|--materialize [--dir DIR] [--tributary VERSION|file:PATH]";
const DEV_TOOLS = ["typescript", "vitest", "@types/node"];

export async function newProject(argv: string[]): Promise<number> {
  const { positional, options } = parseArgs(argv, { values: ["dir", "tributary"], flags: ["capture", "materialize"] });
  if (positional.length !== 1 || options.capture === options.materialize) throw new Error(USAGE);
  const name = positional[0]!;
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new Error(`project name ${JSON.stringify(name)} must be lower-case letters, digits and dashes, starting with a letter (e.g. source-acme)`);
  }
  const protocol = options.capture === true ? "capture" : "materialize";
  const dir = resolve(typeof options.dir === "string" ? options.dir : name);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`--dir ${dir} exists and is not empty`);

  const own = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as {
    version: string;
    devDependencies?: Record<string, string>;
  };
  const devDependencies: Record<string, string> = {};
  for (const tool of DEV_TOOLS) devDependencies[tool] = own.devDependencies?.[tool] ?? "*";
  let tributary = typeof options.tributary === "string" ? options.tributary : `^${own.version}`;
  // A relative file: path is relative to where the command runs, not the new project.
  if (tributary.startsWith("file:") && !tributary.startsWith("file:/")) tributary = "file:" + resolve(tributary.slice(5));

  const collection = `acmeCo/${name.replace(/^(source|materialize)-/, "")}/${protocol === "capture" ? "events" : "things"}`;
  const files = {
    ...commonFiles({ name, protocol, tributary, devDependencies }),
    ...(protocol === "capture" ? captureFiles(name, collection) : materializeFiles(name, collection)),
  };
  for (const [path, text] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  process.stdout.write(`created ${protocol} project ${name} in ${dir}\nnext: cd ${dir} && npm install && npm test\n`);
  return 0;
}
