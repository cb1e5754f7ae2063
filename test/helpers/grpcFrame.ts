// The 5-byte envelope of every gRPC, gRPC-Web and Connect-streaming message:
// a flag byte (COMPRESSED; TRAILERS for gRPC-Web's trailer frame), the
// message length as a 4-byte big-endian integer, then the message.

export const COMPRESSED = 0x01;
export const TRAILERS = 0x80;

export interface GrpcFrame {
  readonly flag: number;
  readonly message: Buffer;
}

/** `message` in its envelope; `declaredLength` lets a test state a length the message does not have. */
export function grpcFrame(message: Uint8Array, flag = 0, declaredLength = message.length): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flag;
  out.writeUInt32BE(declaredLength >>> 0, 1);
  out.set(message, 5);
  return out;
}

/** The envelopes of a body, in order; throws when the body ends inside one. */
export function grpcFrames(body: Uint8Array): GrpcFrame[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out: GrpcFrame[] = [];
  const cut = (at: number): Error => new Error(`a body of ${buf.length} bytes ends inside the envelope at ${at}`);
  for (let at = 0; at < buf.length; ) {
    if (buf.length - at < 5) throw cut(at);
    const end = at + 5 + buf.readUInt32BE(at + 1);
    if (end > buf.length) throw cut(at);
    out.push({ flag: buf[at]!, message: buf.subarray(at + 5, end) });
    at = end;
  }
  return out;
}
