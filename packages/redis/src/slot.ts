// Redis Cluster hashes a key to one of 16384 slots with CRC16-XMODEM over the key, or over
// its `{hash tag}` when it has a non-empty one.
const table = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  table[i] = crc & 0xffff;
}

/** Returns the Redis Cluster hash slot (0 to 16383) of `key`. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code > 0x7f) return crc16(Buffer.from(key));
    crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ code) & 0xff]!;
  }
  return crc & 0x3fff;
}

// Non-ASCII keys hash over their UTF-8 bytes. '{' and '}' are ASCII, so the tag found in the
// string is the tag found in the bytes.
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ byte) & 0xff]!;
  return crc & 0x3fff;
}

/** Groups `keys` by hash slot; each group holds the keys' indexes in `keys`. */
export function groupBySlot(keys: readonly string[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const slot = keySlot(keys[i]!);
    const group = groups.get(slot);
    if (group) group.push(i);
    else groups.set(slot, [i]);
  }
  return groups;
}
