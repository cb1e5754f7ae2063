// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its
// hash tag (the text between the first "{" and the next "}", when not
// empty), modulo 16384. Used to send WAIT to the master that took a write.
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/** The slot of a hash tag that is ASCII text (a hex blind index), without encoding it first. */
export function asciiTagSlot(tag: string): number {
  let crc = 0;
  for (let i = 0; i < tag.length; i++) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ tag.charCodeAt(i)) & 0xff] as number);
  return crc % 16384;
}

export function clusterSlot(key: string | Uint8Array): number {
  let bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) % 16384;
}
