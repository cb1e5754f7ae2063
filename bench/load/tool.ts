// The load generators that are programs of their own (wrk, h2load): their
// output once they have run.
import { spawn } from "node:child_process";

/** A load generator's stdout and stderr together, once it has exited. */
export function outputOf(command: string, args: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    child.stderr.on("data", (c: Buffer) => (text += c.toString()));
    child.once("error", reject);
    child.once("exit", () => resolve(text));
  });
}
