// Byte helpers shared by the verifiers. Internal: not exported from the package root.

const HEX = /^[0-9a-fA-F]*$/;

/** `text` as exactly `length` bytes of hex (either letter case), or `null`. */
export function hexToBytes(text: string, length: number): Uint8Array | null {
  if (text.length !== length * 2 || !HEX.test(text)) return null;
  return Uint8Array.from(Buffer.from(text, "hex"));
}

/** Lower-case hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** `value` as 4 little-endian bytes; `value` must be an integer in 0..=2^32-1. */
export function u32le(value: number, field: string): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`${field} must be an integer in 0..=4294967295`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

/** The concatenation of `parts`. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Bytes from a wire byte array (integers 0..=255), or `null` if any element is not one. */
export function byteArray(values: readonly unknown[]): Uint8Array | null {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 255) return null;
    out[i] = v;
  }
  return out;
}
