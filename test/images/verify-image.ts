/**
 * What a connector image must be, checked on a built image: its labels and
 * configuration, its files and user, and what its exact ENTRYPOINT answers
 * compared with the same connector run from this checkout. Each check that
 * fails adds one problem naming the image and what is wrong.
 */
import { readFileSync } from "node:fs";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import * as capture from "../../src/gen/capture/capture_pb.js";
import * as materialize from "../../src/gen/materialize/materialize_pb.js";
import { messageCodec, type WireCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";
import { loadConnector } from "../../connectors/registry.js";
import { REPO } from "../support/process.js";
import { Container, inspectImage, runToEnd, type Finished } from "./buildah.js";

const pkg = JSON.parse(readFileSync(`${REPO}package.json`, "utf8")) as { version: string };
/** Installed paths of the packages only development needs (npm marks them in the lock). */
const devOnly = Object.entries(JSON.parse(readFileSync(`${REPO}package-lock.json`, "utf8")).packages as Record<string, { dev?: boolean }>)
  .filter(([path, p]) => path.startsWith("node_modules/") && p.dev)
  .map(([path]) => `/app/${path}`);
const OCI = "org.opencontainers.image.";

export function checkoutArgv(connector: string): string[] {
  return [process.execPath, `${REPO}bin/tributary`, "run", connector];
}

/** Request and response schemas of a protocol. */
export function schemasOf(protocol: string): { req: DescMessage; res: DescMessage } {
  return protocol === "capture"
    ? { req: capture.RequestSchema, res: capture.ResponseSchema }
    : { req: materialize.RequestSchema, res: materialize.ResponseSchema };
}

/** One request framed in `wire`. */
export function frame<D extends DescMessage>(schema: D, wire: WireCodec, msg: MessageShape<D>): Buffer {
  const w = new FrameWriter(wire);
  w.append(messageCodec(schema, wire).encode(msg));
  return Buffer.from(w.take());
}

/** Every response of a finished session, decoded. */
export function responses<D extends DescMessage>(schema: D, wire: WireCodec, out: Buffer): MessageShape<D>[] {
  const codec = messageCodec(schema, wire);
  return [...new FrameDecoder(wire).push(out)].map((f) => codec.decode(f));
}

/**
 * Sends one request through the image's ENTRYPOINT and through the
 * checkout, in `wire`; a problem unless both exit 0 with the same bytes.
 */
export async function sameAnswer(
  c: Container,
  connector: string,
  what: string,
  wire: WireCodec,
  input: Buffer,
): Promise<{ problems: string[]; image: Finished }> {
  const env = { FLOW_RUNTIME_CODEC: wire };
  const [image, checkout] = await Promise.all([runImage(c, input, env), runToEnd(checkoutArgv(connector), input, env)]);
  const at = `${c.ref}: ${what} (${wire}) through the ENTRYPOINT`;
  if (checkout.code !== 0) return { problems: [`${at}: the checkout's ${connector} itself failed: ${lastLine(checkout.stderr)}`], image };
  if (image.code !== 0) return { problems: [`${at} exited with code ${image.code}: ${lastLine(image.stderr)}`], image };
  if (!image.stdout.equals(checkout.stdout)) return { problems: [`${at} answers differently from ${connector} run from the checkout`], image };
  return { problems: [], image };
}

/**
 * One session through the image's ENTRYPOINT. buildah's chroot runs now and
 * then drop a process's output (see Container.sh): a session that exits 0
 * having written nothing is run again, up to three times.
 */
async function runImage(c: Container, input: Buffer, env: NodeJS.ProcessEnv): Promise<Finished> {
  for (let attempt = 1; ; attempt++) {
    const r = await runToEnd(c.entrypointArgv(), input, env);
    if (r.code !== 0 || r.stdout.length > 0 || attempt === 3) return r;
  }
}

/** buildah's own lines about a command that failed. */
const BUILDAH_EXIT = /^(Error: exit status \d+|subprocess exited with status \d+)$/;

/** The connector's last stderr line (not buildah's), the msg of a JSON log line. */
function lastLine(text: string): string {
  const line = text.trim().split("\n").filter((l) => !BUILDAH_EXIT.test(l)).at(-1) ?? "";
  try {
    const msg = JSON.parse(line).msg;
    if (typeof msg === "string") return msg.slice(0, 400);
  } catch {
    // plain text
  }
  return line.slice(0, 400);
}

function checkConfig(ref: string, connector: string, protocol: string, cfg: Awaited<ReturnType<typeof inspectImage>>): string[] {
  const problems: string[] = [];
  const l = cfg.labels;
  if (l.FLOW_RUNTIME_PROTOCOL !== protocol) {
    problems.push(`${ref}: label FLOW_RUNTIME_PROTOCOL is ${JSON.stringify(l.FLOW_RUNTIME_PROTOCOL)} but ${connector} speaks ${protocol}`);
  }
  if (l.FLOW_RUNTIME_CODEC !== "proto" && l.FLOW_RUNTIME_CODEC !== "json") {
    problems.push(`${ref}: label FLOW_RUNTIME_CODEC is ${JSON.stringify(l.FLOW_RUNTIME_CODEC)}, not proto or json`);
  }
  for (const k of ["source", "version", "description", "documentation"]) {
    if (!l[OCI + k]) problems.push(`${ref}: label ${OCI}${k} is missing`);
  }
  if (l[OCI + "version"] && l[OCI + "version"] !== pkg.version) {
    problems.push(`${ref}: label ${OCI}version is ${l[OCI + "version"]}, package.json says ${pkg.version}`);
  }
  const docs = `${l[OCI + "source"]}/tree/main/connectors/${connector}`;
  if (l[OCI + "documentation"] !== docs) problems.push(`${ref}: label ${OCI}documentation is not ${docs}`);
  if (/^(|root|0)(:.*)?$/.test(cfg.user)) problems.push(`${ref}: runs as root (USER ${JSON.stringify(cfg.user)})`);
  if (cfg.architecture !== "amd64") problems.push(`${ref}: architecture is ${cfg.architecture}, Flow runs amd64`);
  if (cfg.entrypoint.length === 0) problems.push(`${ref}: has no ENTRYPOINT`);
  return problems;
}

/** Node 20, a non-root process, and production files only. */
async function checkFiles(c: Container): Promise<string[]> {
  const problems: string[] = [];
  const uid = (await c.sh("id -u")).trim();
  if (uid === "0") problems.push(`${c.ref}: processes run as root (uid 0)`);
  const node = (await c.sh("node --version")).trim();
  if (!node.startsWith("v20.")) problems.push(`${c.ref}: node is ${node}, not 20.x`);
  const found = (
    await c.sh(`for f in /app/dist/test /app/src /app/test ${devOnly.join(" ")}; do [ -e "$f" ] && echo "$f"; done
      find /app/dist \\( -name '*.test.js' -o -name 'test-*.js' -o -name '*.ts' -o -name '*.map' \\) -print | head -5; true`)
  ).trim();
  if (found) problems.push(`${c.ref}: holds files that are not for production: ${found.split("\n").join(", ")}`);
  return problems;
}

/** The Spec answer in both codecs, and its documentation URL. */
async function checkSpec(c: Container, connector: string, protocol: string, docs: string | undefined): Promise<string[]> {
  const problems: string[] = [];
  const { req, res } = schemasOf(protocol);
  for (const wire of ["proto", "json"] as const) {
    const spec = frame(req, wire, create(req, { spec: {} }) as MessageShape<typeof req>);
    const r = await sameAnswer(c, connector, "Spec", wire, spec);
    problems.push(...r.problems);
    if (r.problems.length === 0 && wire === "proto") {
      const [answer] = responses(res, wire, r.image.stdout) as { spec?: { protocol: number; documentationUrl: string } }[];
      if (answer?.spec?.documentationUrl !== docs) {
        problems.push(`${c.ref}: Spec's documentationUrl ${JSON.stringify(answer?.spec?.documentationUrl)} is not the image's ${docs}`);
      }
    }
  }
  return problems;
}

/** Every problem of the image of `connector` at `ref`; none when it is right. */
export async function verifyImage(ref: string, connector: string): Promise<string[]> {
  const { protocol } = await loadConnector(connector);
  let cfg;
  try {
    cfg = await inspectImage(ref);
  } catch (err) {
    return [`${ref}: cannot inspect the image: ${(err as Error).message}`];
  }
  const problems = checkConfig(ref, connector, protocol, cfg);
  const c = await Container.create(ref);
  try {
    problems.push(...(await checkFiles(c)));
    problems.push(...(await checkSpec(c, connector, protocol, cfg.labels[OCI + "documentation"])));
  } finally {
    await c.remove();
  }
  return problems;
}
