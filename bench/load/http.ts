// The HTTP/1.1 load at full speed: wrk when installed, else autocannon
// (autocannon too when an overall rate is asked for).
import { autocannonRun } from "./autocannon.js";
import type { HttpLoad, LoadResult } from "./types.js";
import { haveWrk, wrkRun } from "./wrk.js";

export { haveWrk };

export function httpRun(load: HttpLoad, workDir: string): Promise<LoadResult> {
  return haveWrk() && load.overallRate === undefined ? wrkRun(load, workDir) : autocannonRun(load);
}

/** The HTTP/1.1 load generator, as the report names it. */
export const httpTool = (): string => (haveWrk() ? "wrk -t1" : "autocannon");
