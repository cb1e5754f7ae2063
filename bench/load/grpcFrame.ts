/** A unary gRPC message in its 5-byte envelope (flag 0, big-endian length): a request body for h2load, bare-h2's answer. */
export function grpcFrame(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}
