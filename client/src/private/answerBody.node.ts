// An HTTP answer's body, read whole up to a bound (Node only): the JSON paths'
// exchange and the log's reads both refuse an answer past their limit.
import type { IncomingMessage } from "node:http";

/**
 * Collects `res`'s body; past `maxBytes` it destroys the answer and calls
 * `tooLarge` once instead. Returns what was read, for the 'end' handler.
 */
export function collectBody(res: IncomingMessage, maxBytes: number, tooLarge: () => void): () => Buffer {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on("data", (c: Buffer) => {
    size += c.length;
    if (size > maxBytes) {
      if (!res.destroyed) tooLarge();
      res.destroy();
    } else chunks.push(c);
  });
  return () => Buffer.concat(chunks, Math.min(size, maxBytes));
}
