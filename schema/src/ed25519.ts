// Strict Ed25519 verification on top of Node's built-in crypto.
//
// Node's `crypto.verify` for Ed25519 (OpenSSL) implements the RFC 8032 equation without the
// checks a verifier that authorizes anything needs. `verifyEd25519Strict` adds them first, so its
// verdicts match ed25519-dalek's `verify_strict` (which the Rust crate uses):
//   - the signature is 64 bytes and its scalar S is canonical (S < L);
//   - the public key A and the signature's R are canonical encodings (y < p, and no "negative
//     zero" x) of points on the curve;
//   - neither A nor R is of small order (8·P is the identity).
// Only then does OpenSSL check the equation (it compares the re-encoded R byte for byte).
// The curve arithmetic here is decoding and doubling only, in BigInt, on public values.

import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";

const P = (1n << 255n) - 19n;
/** The prime order of the base point's subgroup. */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function inverse(a: bigint): bigint {
  return pow(a, P - 2n);
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

interface Point {
  x: bigint;
  y: bigint;
  z: bigint;
}

/**
 * Decodes a 32-byte point encoding (RFC 8032 §5.1.3), refusing values that are not on the curve
 * and, unless `lenient`, non-canonical encodings (y >= p, or x = 0 with the sign bit set).
 * `lenient` decodes as curve25519-dalek does (y reduced mod p, a negative zero read as zero).
 */
function decodePoint(encoded: Uint8Array, lenient = false): Point | null {
  if (encoded.length !== 32) return null;
  const sign = ((encoded[31] as number) >> 7) & 1;
  let y = littleEndian(encoded) & ((1n << 255n) - 1n);
  if (y >= P) {
    if (!lenient) return null;
    y -= P;
  }
  const y2 = (y * y) % P;
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  const v3 = (v * v * v) % P;
  let x = (u * v3 * pow(u * v3 * v3 * v, (P - 5n) / 8n)) % P;
  const vx2 = (v * x * x) % P;
  if (vx2 === u) {
    // x is a root
  } else if (vx2 === mod(-u)) {
    x = (x * SQRT_M1) % P;
  } else {
    return null;
  }
  if (x === 0n && sign === 1 && !lenient) return null;
  if (Number(x & 1n) !== sign) x = P - x;
  return { x, y, z: 1n };
}

/** 2·P in projective coordinates on -x² + y² = 1 + d·x²·y². */
function double({ x, y, z }: Point): Point {
  const a = (x * x) % P;
  const b = (y * y) % P;
  const c = (2n * z * z) % P;
  const dd = mod(-a);
  const e = mod((x + y) * (x + y) - a - b);
  const g = mod(dd + b);
  const f = mod(g - c);
  const h = mod(dd - b);
  return { x: (e * f) % P, y: (g * h) % P, z: (f * g) % P };
}

/** Whether 8·P is the identity, i.e. P lies in the small (torsion) subgroup. */
function isSmallOrder(point: Point): boolean {
  const p8 = double(double(double(point)));
  return p8.x === 0n && p8.y === p8.z;
}

/**
 * Whether `encoded` decodes to a curve point at all (leniently, as curve25519-dalek's
 * decompression does). The release verifier uses it to class an `X-WK-Pub` header that is no point
 * at all as malformed, as the Rust verifier does; signatures still require strict points.
 */
export function isEd25519Point(encoded: Uint8Array): boolean {
  return decodePoint(encoded, true) !== null;
}

/** Whether `encoded` is a canonical encoding of a curve point that is not of small order. */
export function isStrictEd25519Point(encoded: Uint8Array): boolean {
  const point = decodePoint(encoded);
  return point !== null && !isSmallOrder(point);
}

const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/**
 * Verifies an Ed25519 signature with the strictness of ed25519-dalek's `verify_strict`: `S < L`,
 * canonical encodings of the public key and of `R`, neither of small order, then the RFC 8032
 * equation (by Node's built-in crypto).
 *
 * @param publicKey - The signer's raw 32-byte public key.
 * @param message - The exact signed bytes.
 * @param signature - The 64-byte signature (`R ‖ S`).
 * @returns `true` only when every check passes; malformed input gives `false`, never an exception.
 */
export function verifyEd25519Strict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (littleEndian(signature.subarray(32)) >= L) return false;
  if (!isStrictEd25519Point(publicKey)) return false;
  if (!isStrictEd25519Point(signature.subarray(0, 32))) return false;
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * An Ed25519 private key: a Node `KeyObject` of type `private` and asymmetric type `ed25519`, or
 * the raw 32-byte seed (RFC 8032 private key).
 */
export type Ed25519PrivateKey = KeyObject | Uint8Array;

/** The `KeyObject` for `key`; throws a `TypeError` naming the problem (never the key) otherwise. */
export function ed25519PrivateKey(key: Ed25519PrivateKey): KeyObject {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new TypeError(`an Ed25519 seed must be 32 bytes, got ${key.length}`);
    return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, key]), format: "der", type: "pkcs8" });
  }
  if (key.type !== "private" || key.asymmetricKeyType !== "ed25519") {
    throw new TypeError("expected an Ed25519 private KeyObject");
  }
  return key;
}

/**
 * The raw 32-byte public key of an Ed25519 private key.
 *
 * @param key - A private `KeyObject` or a 32-byte seed.
 */
export function ed25519PublicKey(key: Ed25519PrivateKey): Uint8Array {
  const der = createPublicKey(ed25519PrivateKey(key)).export({ format: "der", type: "spki" });
  return Uint8Array.from(der.subarray(der.length - 32));
}

/**
 * Signs `message` with Ed25519 (RFC 8032, deterministic).
 *
 * @param key - A private `KeyObject` or a 32-byte seed.
 * @returns The 64-byte signature.
 */
export function signEd25519(key: Ed25519PrivateKey, message: Uint8Array): Uint8Array {
  return Uint8Array.from(nodeSign(null, message, ed25519PrivateKey(key)));
}
