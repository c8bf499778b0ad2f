/**
 * A kernel pipe for a child process's stdout, read the way Flow's runtime
 * reads a connector (Go's os.Pipe and a reused buffer):
 *
 *  - a real pipe: spawn()'s "pipe" is a UNIX socket pair (libuv), with other
 *    buffer sizes than the pipe the runtime gives a connector; Node has no
 *    call for an anonymous pipe, so this is a FIFO whose name is removed as
 *    soon as both ends are open;
 *  - one buffer for every read (net.Socket's `onread`): Node's default reads
 *    allocate a new 64 KiB buffer each, external memory that set off V8's
 *    "external memory pressure" collections in the benchmarks' driver (a
 *    full mark-compact every ~100 ms in some runs), so the driver's CPU per
 *    million documents swung between 0.4 and 2 s and took a core's share
 *    from the connector and the database.
 */
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { Socket, type OnReadOpts, type SocketConstructorOpts } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface StdoutPipe {
  /** The write end, for spawn's stdio; close it (closeWriteEnd) once the child has it. */
  writeFd: number;
  closeWriteEnd(): void;
  /**
   * Starts reading: `onChunk(buf, n)` gets the first n bytes of the one
   * buffer, which the next read overwrites. The socket ends when every
   * writer has closed the pipe.
   */
  read(onChunk: (buf: Buffer, n: number) => void): Socket;
}

export function stdoutPipe(bufferSize = 64 * 1024): StdoutPipe {
  const dir = mkdtempSync(join(tmpdir(), "tributary-pipe-"));
  let readFd: number;
  let writeFd: number;
  try {
    const path = join(dir, "stdout");
    execFileSync("mkfifo", ["-m", "600", path]);
    // Non-blocking so this open does not wait for a writer; the write end then opens at once.
    readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    writeFd = openSync(path, constants.O_WRONLY);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let writeOpen = true;
  return {
    writeFd,
    closeWriteEnd() {
      if (writeOpen) closeSync(writeFd);
      writeOpen = false;
    },
    read(onChunk) {
      const buffer = Buffer.allocUnsafe(bufferSize);
      // Node's constructor takes `onread` as connect() does; @types/node lists it for connect() only.
      const opts: SocketConstructorOpts & { onread: OnReadOpts } = {
        fd: readFd,
        readable: true,
        writable: false,
        onread: {
          buffer,
          callback: (n, buf) => {
            onChunk(buf as Buffer, n);
            return true;
          },
        },
      };
      return new Socket(opts);
    },
  };
}
