/**
 * The checks must catch a broken image definition: each case builds a copy
 * of the Dockerfile with one deliberate mistake (the source-hello-world
 * image, tagged broken-<case>) and expects the build or verifyImage to name
 * the mistake. Skipped unless TRIBUTARY_VERIFY_IMAGES is set (make
 * verify-images); TRIBUTARY_IMAGE_BASE names the local base to build on.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { REPO } from "../support/process.js";
import { IMAGE_TAG, buildah, imageRef } from "./buildah.js";
import { verifyImage } from "./verify-image.js";

const run = promisify(execFile);
const DOCKERFILE = readFileSync(`${REPO}Dockerfile`, "utf8");
const CONNECTOR = "source-hello-world";
const built: string[] = [];

/** A copy of the Dockerfile with `from` replaced by `to`; fails if `from` is not there. */
function breakCopy(from: string, to: string): string {
  expect(DOCKERFILE, `the Dockerfile no longer has ${JSON.stringify(from)}`).toContain(from);
  const file = join(mkdtempSync(join(tmpdir(), "broken-dockerfile-")), "Dockerfile");
  writeFileSync(file, DOCKERFILE.replace(from, to));
  return file;
}

/** Builds the broken copy; the build's output when it fails. */
async function build(kind: string, file: string): Promise<{ ref: string; failure?: string }> {
  const args = [`${REPO}images/build.sh`, "--tag", `broken-${kind}`, "--file", file];
  if (process.env.TRIBUTARY_IMAGE_BASE) args.push("--base", process.env.TRIBUTARY_IMAGE_BASE);
  const ref = imageRef(CONNECTOR, `broken-${kind}`);
  try {
    await run("bash", [...args, CONNECTOR], { env: { ...process.env, IMAGE_BUILDER: "buildah" }, maxBuffer: 64 << 20 });
    built.push(ref);
    return { ref };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ref, failure: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

// Each case builds an image: minutes, not seconds, on a loaded machine.
describe.skipIf(!IMAGE_TAG)("a broken Dockerfile fails verification", { timeout: 300_000 }, () => {
  afterAll(async () => {
    for (const ref of built) await buildah("rmi", ref).catch(() => {});
  });

  it("the good Dockerfile passes (the control)", async () => {
    expect(await verifyImage(imageRef(CONNECTOR), CONNECTOR)).toEqual([]);
  });

  it("a wrong protocol label", async () => {
    const { ref, failure } = await build("label", breakCopy("FLOW_RUNTIME_PROTOCOL=${PROTOCOL}", "FLOW_RUNTIME_PROTOCOL=materialize"));
    expect(failure).toBeUndefined();
    expect(await verifyImage(ref, CONNECTOR)).toContain(`${ref}: label FLOW_RUNTIME_PROTOCOL is "materialize" but ${CONNECTOR} speaks capture`);
  });

  it("a missing runtime file", async () => {
    const from = "COPY --from=build /app/dist/connectors dist/connectors\n";
    const { ref, failure } = await build("file", breakCopy(from, `${from}RUN rm dist/src/transport/stdio.js\n`));
    expect(failure).toBeUndefined();
    const problems = await verifyImage(ref, CONNECTOR);
    expect(problems).toContainEqual(expect.stringMatching(/Spec \(proto\) through the ENTRYPOINT exited with code 1: .*stdio\.js/));
    expect(problems).toContainEqual(expect.stringMatching(/Spec \(json\) through the ENTRYPOINT exited with code 1/));
  });

  it("an ENTRYPOINT that runs another connector", async () => {
    const file = breakCopy('ENTRYPOINT ["/app/bin/connector"]', 'ENTRYPOINT ["/app/bin/tributary", "run", "source-postgres"]');
    const { ref, failure } = await build("entrypoint", file);
    expect(failure).toBeUndefined();
    expect(await verifyImage(ref, CONNECTOR)).toContain(`${ref}: Spec (proto) through the ENTRYPOINT answers differently from ${CONNECTOR} run from the checkout`);
  });

  it("an image that runs as root", async () => {
    const { ref, failure } = await build("root", breakCopy("USER node\n", ""));
    expect(failure).toBeUndefined();
    expect(await verifyImage(ref, CONNECTOR)).toEqual(
      expect.arrayContaining([`${ref}: runs as root (USER "")`, `${ref}: processes run as root (uid 0)`]),
    );
  });

  it("a PROTOCOL build argument that is not the connector's fails the build", async () => {
    const { failure } = await build("arg", breakCopy("ARG PROTOCOL\n", "ARG PROTOCOL\nENV PROTOCOL=materialize\n"));
    expect(failure).toMatch(/CONNECTOR=source-hello-world PROTOCOL=materialize is not a connector of this build/);
  });
});
