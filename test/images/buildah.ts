/**
 * The images under test, as buildah sees them: their configuration, a
 * working container to run commands in, and a process run through the
 * image's own ENTRYPOINT (images/run.sh reads it from the image and runs it
 * verbatim, as a container runtime would).
 *
 * These tests run under `make verify-images`, which builds the images and
 * names their tag in TRIBUTARY_VERIFY_IMAGES; without it they are skipped.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { REPO } from "../support/process.js";

export const IMAGE_TAG = process.env.TRIBUTARY_VERIFY_IMAGES ?? "";
export const IMAGE_REPO = process.env.IMAGE_REPO ?? "ghcr.io/tributary-dev";
export const RUN_SH = `${REPO}images/run.sh`;

const exec = promisify(execFile);
const ENV = { ...process.env, STORAGE_DRIVER: process.env.STORAGE_DRIVER ?? "overlay" };

export function imageRef(connector: string, tag = IMAGE_TAG): string {
  return `${IMAGE_REPO}/${connector}:${tag}`;
}

export async function buildah(...args: string[]): Promise<string> {
  const { stdout } = await exec("buildah", args, { env: ENV, maxBuffer: 64 << 20 });
  return stdout;
}

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  user: string;
  env: string[];
  labels: Record<string, string>;
  architecture: string;
}

export async function inspectImage(ref: string): Promise<ImageConfig> {
  const oci = JSON.parse(await buildah("inspect", "--type", "image", ref)).OCIv1;
  const c = oci.config ?? {};
  return {
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    user: c.User ?? "",
    env: c.Env ?? [],
    labels: c.Labels ?? {},
    architecture: oci.architecture ?? "",
  };
}

const END = "--end-of-output--";

/** A working container of `ref`, for running commands in the image. */
export class Container {
  private constructor(readonly ref: string, readonly name: string, private readonly user: string) {}

  static async create(ref: string): Promise<Container> {
    const { user } = await inspectImage(ref);
    return new Container(ref, (await buildah("from", "--pull=never", ref)).trim(), user || "0");
  }

  /** argv that runs the image's ENTRYPOINT in this container over stdio. */
  entrypointArgv(): string[] {
    return [RUN_SH, "--container", this.name, this.ref];
  }

  /**
   * Runs a shell script in the container as the image's configured user
   * (root when none) and returns its output. buildah 1.28's chroot runs now
   * and then drop the output of a process that exits at once (about 1 run
   * in 25 here), so the script ends with a marker line and is run again
   * when the marker did not come through.
   */
  async sh(script: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const out = await buildah("run", "--isolation=chroot", "--user", this.user, this.name, "--", "sh", "-c", `${script}\necho ${END}`);
      if (out.endsWith(`${END}\n`)) return out.slice(0, -END.length - 1);
      if (attempt === 3) throw new Error(`buildah run lost the output of ${JSON.stringify(script)} in ${this.ref} three times`);
    }
  }

  async remove(): Promise<void> {
    await buildah("rm", this.name).catch(() => {});
  }
}

export interface Finished {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs argv with `input` on stdin until it exits; stdout kept as bytes. */
export function runToEnd(argv: string[], input: Buffer, env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...ENV, LOG_LEVEL: "warn", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}
