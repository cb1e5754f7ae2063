// What every command shares: its answer in two forms, and the checks of its arguments.
import { userIdFromUsername } from "../index.js";
import { hexToBytesOfLength } from "../wire/bytes.js";
import { UsageError, messageOf } from "./failure.js";

export interface Output {
  /** Human form, lines without the final newline ("" prints nothing). */
  text: string;
  /** --json form: one JSON value. */
  json: string;
}

export function noMore(args: string[]): void {
  if (args.length > 0) throw new UsageError(`unexpected argument: ${args[0]}`);
}

/** The user a command names, by <username> (the first argument) or by --handle; and the arguments left. */
export function userOf(args: string[], handle: string | undefined): [Uint8Array, string[]] {
  if (handle !== undefined) {
    const bytes = hexToBytesOfLength(handle, 32);
    if (bytes === null) throw new UsageError("--handle must be 64 hex characters (a user id)");
    return [bytes, args];
  }
  const [username, ...rest] = args;
  if (username === undefined) throw new UsageError("missing <username> (or --handle HEX)");
  try {
    return [userIdFromUsername(username), rest];
  } catch (err) {
    throw new UsageError(messageOf(err));
  }
}

export function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

