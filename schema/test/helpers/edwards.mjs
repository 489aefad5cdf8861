// Test-only edwards25519 arithmetic (BigInt, not constant time), written for these tests to build
// points the package must refuse: small-order and mixed-order keys, torsion R values, and
// non-canonical encodings. Independent of src/ed25519.ts on purpose.
import { createHash } from "node:crypto";

export const P = (1n << 255n) - 19n;
export const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const mod = (a, m = P) => ((a % m) + m) % m;
const pow = (b, e, m = P) => {
  let r = 1n;
  b = mod(b, m);
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
};
const inv = (a) => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const D2 = mod(2n * D);
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

export const le = (bytes) => bytes.reduceRight((n, b) => (n << 8n) | BigInt(b), 0n);
export function leBytes(n, length = 32) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** Affine point from (x, y). */
const point = (x, y) => ({ X: x, Y: y, Z: 1n, T: mod(x * y) });
export const IDENTITY = point(0n, 1n);
/** The point of order 2. */
export const ORDER_2 = point(0n, P - 1n);

export function decode(bytes) {
  const y = le(bytes) & ((1n << 255n) - 1n);
  const sign = bytes[31] >> 7;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = pow(u * inv(v), (P + 3n) / 8n);
  if (mod(x * x - u * inv(v)) !== 0n) x = mod(x * SQRT_M1);
  if (mod(x * x - u * inv(v)) !== 0n) throw new Error("not on the curve");
  if (Number(x & 1n) !== sign) x = mod(-x);
  return point(x, mod(y));
}
export const BASE = decode(Buffer.from("5866666666666666666666666666666666666666666666666666666666666666", "hex"));

export function add(p, q) {
  const a = mod((p.Y - p.X) * (q.Y - q.X));
  const b = mod((p.Y + p.X) * (q.Y + q.X));
  const c = mod(p.T * D2 * q.T);
  const d = mod(2n * p.Z * q.Z);
  const e = b - a, f = d - c, g = d + c, h = b + a;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}
export function multiply(p, n) {
  let r = IDENTITY;
  for (let q = p; n > 0n; n >>= 1n, q = add(q, q)) if (n & 1n) r = add(r, q);
  return r;
}
export function encode(p) {
  const zi = inv(p.Z);
  const x = mod(p.X * zi), y = mod(p.Y * zi);
  const out = leBytes(y);
  out[31] |= Number(x & 1n) << 7;
  return out;
}
/** k = SHA-512(R ‖ A ‖ M) mod L, as RFC 8032 verification computes it. */
export const challenge = (r, a, m) => mod(le(createHash("sha512").update(r).update(a).update(m).digest()), L);
