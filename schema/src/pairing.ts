// MUR mobile pairing (CONTRACT.md §8.5–8.7), implemented from the contract for a TypeScript phone
// app: multibase keys, the enrollment transcript, proof and confirm, and SignedEnvelope signing
// bytes, signing and strict verification.

import { createHmac, timingSafeEqual } from "node:crypto";

import { byteArray, concatBytes, u32le, utf8 } from "./bytes.js";
import { ed25519PublicKey, isEd25519Point, signEd25519, verifyEd25519Strict, type Ed25519PrivateKey } from "./ed25519.js";
import type { ClientHelloInit, ServerPairChallenge, SignedEnvelope } from "./generated/contract.js";

/** The enrollment protocol version this package implements (`hello_init.proto`). */
export const PAIR_PROTO = 2;
/** Domain tag that opens every enrollment transcript. */
export const PAIR_DOMAIN = "mur-pair-v2";
/** Domain tag that opens the signed bytes of every envelope (22 ASCII bytes, no length prefix). */
export const ENVELOPE_DOMAIN = "mur-bridge-envelope-v1";

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/**
 * Encodes a raw 32-byte Ed25519 public key as multibase base58btc: `z` followed by the base58
 * (Bitcoin alphabet) of the key bytes, no multicodec prefix.
 */
export function encodePublicKeyMultibase(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new TypeError(`an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  let n = 0n;
  for (const byte of publicKey) n = (n << 8n) | BigInt(byte);
  let text = "";
  while (n > 0n) {
    text = BASE58[Number(n % 58n)] + text;
    n /= 58n;
  }
  for (const byte of publicKey) {
    if (byte !== 0) break;
    text = "1" + text;
  }
  return "z" + text;
}

/**
 * Decodes a multibase base58btc Ed25519 public key to its raw 32 bytes.
 *
 * @throws TypeError if the prefix is not `z`, the text is not base58btc, it does not decode to
 *   exactly 32 bytes, or the bytes are not a curve point.
 */
export function decodePublicKeyMultibase(text: string): Uint8Array {
  if (!text.startsWith("z")) throw new TypeError("multibase public key must be base58btc (prefix z)");
  const body = text.slice(1);
  if (body.length > 44) throw new TypeError("multibase public key is longer than a 32-byte key can encode to");
  let n = 0n;
  for (const ch of body) {
    const digit = BASE58.indexOf(ch);
    if (digit < 0) throw new TypeError("multibase public key is not valid base58btc");
    n = n * 58n + BigInt(digit);
  }
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  for (const ch of body) {
    if (ch !== "1") break;
    bytes.unshift(0);
  }
  if (bytes.length !== 32) throw new TypeError(`multibase public key decodes to ${bytes.length} bytes, expected 32`);
  const key = Uint8Array.from(bytes);
  if (!isEd25519Point(key)) throw new TypeError("multibase public key is not a valid Ed25519 point");
  return key;
}

/** Which side an enrollment transcript authenticates. */
export type PairRole = "phone->daemon" | "daemon->phone";

/** The fields an enrollment transcript binds, exactly as they travelled on the wire. */
export interface TranscriptFields {
  /** `hello_init.proto` (2). */
  proto: number;
  /** `hello_init.agent`. */
  agent: string;
  /** The pairing-window id (`wid`, from the QR code). */
  wid: string;
  /** `pair_challenge.did`: the daemon's identity key, the multibase string as sent. */
  did: string;
  /** `hello_init.pubkey`: the phone's key, the multibase string as sent. */
  phonePubkey: string;
  /** `pair_challenge.nonce`: the raw 32 bytes. */
  nonce: Uint8Array;
}

/**
 * The transcript fields of one enrollment, from the phone's `hello_init` and the daemon's
 * `pair_challenge` frames.
 *
 * @throws TypeError if the challenge's `wid` differs from the `hello_init`'s, or its nonce is
 *   not an array of byte values.
 */
export function transcriptFieldsFromFrames(helloInit: ClientHelloInit, challenge: ServerPairChallenge): TranscriptFields {
  if (challenge.wid !== helloInit.wid) throw new TypeError("pair_challenge.wid does not match hello_init.wid");
  const nonce = byteArray(challenge.nonce);
  if (!nonce) throw new TypeError("pair_challenge.nonce is not an array of byte values");
  return { proto: helloInit.proto, agent: helloInit.agent, wid: helloInit.wid, did: challenge.did, phonePubkey: helloInit.pubkey, nonce };
}

const lengthPrefixed = (bytes: Uint8Array, field: string): Uint8Array => concatBytes(u32le(bytes.length, `${field} length`), bytes);

/**
 * The byte-exact enrollment transcript for `role`: u32le-length-prefixed domain tag
 * `mur-pair-v2` and role tag `mur-pair-v2/<role>`, `proto` as a bare u32le, then
 * length-prefixed agent, wid, did, phone pubkey (UTF-8) and the raw nonce.
 *
 * @throws RangeError if `proto` is not a u32.
 */
export function pairTranscript(role: PairRole, fields: TranscriptFields): Uint8Array {
  return concatBytes(
    lengthPrefixed(utf8(PAIR_DOMAIN), "domain"),
    lengthPrefixed(utf8(`${PAIR_DOMAIN}/${role}`), "role"),
    u32le(fields.proto, "proto"),
    lengthPrefixed(utf8(fields.agent), "agent"),
    lengthPrefixed(utf8(fields.wid), "wid"),
    lengthPrefixed(utf8(fields.did), "did"),
    lengthPrefixed(utf8(fields.phonePubkey), "pubkey"),
    lengthPrefixed(fields.nonce, "nonce"),
  );
}

const hmac = (token: string | Uint8Array, message: Uint8Array): Uint8Array =>
  Uint8Array.from(createHmac("sha256", typeof token === "string" ? utf8(token) : token).update(message).digest());

/**
 * The phone's enrollment proof (`hello_proof.proof`): HMAC-SHA256 keyed by the pairing token
 * (a string is keyed by its UTF-8 bytes) over the `phone->daemon` transcript; 32 bytes.
 */
export function pairProof(token: string | Uint8Array, fields: TranscriptFields): Uint8Array {
  return hmac(token, pairTranscript("phone->daemon", fields));
}

/**
 * The daemon's enrollment confirm (`paired.confirm`): HMAC-SHA256 keyed by the pairing token over
 * the `daemon->phone` transcript; 32 bytes.
 */
export function pairConfirm(token: string | Uint8Array, fields: TranscriptFields): Uint8Array {
  return hmac(token, pairTranscript("daemon->phone", fields));
}

function constantTimeEqual(expected: Uint8Array, received: Uint8Array | readonly number[]): boolean {
  const bytes = received instanceof Uint8Array ? received : byteArray(received);
  if (!bytes || bytes.length !== expected.length) return false;
  return timingSafeEqual(expected, bytes);
}

/**
 * The phone's check of the daemon's `paired.confirm`, in constant time. An empty confirm (legacy
 * or resume `paired`) or any other length fails. A phone that gets `false` must drop the
 * connection: the endpoint did not prove it holds the token.
 */
export function verifyPairConfirm(token: string | Uint8Array, fields: TranscriptFields, confirm: Uint8Array | readonly number[]): boolean {
  return constantTimeEqual(pairConfirm(token, fields), confirm);
}

/** The daemon's check of a phone's `hello_proof.proof`, in constant time. */
export function verifyPairProof(token: string | Uint8Array, fields: TranscriptFields, proof: Uint8Array | readonly number[]): boolean {
  return constantTimeEqual(pairProof(token, fields), proof);
}

/** The exact bytes an envelope signature covers: `mur-bridge-envelope-v1` ‖ u32le(keyVersion) ‖ payload. */
export function envelopeSigningBytes(payload: Uint8Array, keyVersion: number): Uint8Array {
  return concatBytes(utf8(ENVELOPE_DOMAIN), u32le(keyVersion, "key_version"), payload);
}

/**
 * Signs `payload` (already canonical; it is not re-encoded) as a SignedEnvelope in wire form:
 * byte fields as arrays of integers, `bridge_pubkey_multibase` derived from the key.
 *
 * @param payload - The exact bytes (a string is taken as its UTF-8 bytes).
 * @param privateKey - The device key (KeyObject or 32-byte seed).
 * @param keyVersion - The signer's key version, a u32.
 */
export function signEnvelope(payload: Uint8Array | string, privateKey: Ed25519PrivateKey, keyVersion: number): SignedEnvelope {
  const bytes = typeof payload === "string" ? utf8(payload) : payload;
  const sig = signEd25519(privateKey, envelopeSigningBytes(bytes, keyVersion));
  return {
    payload: Array.from(bytes),
    sig: Array.from(sig),
    key_version: keyVersion,
    bridge_pubkey_multibase: encodePublicKeyMultibase(ed25519PublicKey(privateKey)),
  };
}

/**
 * The phone's `resume_proof` envelope: the UTF-8 bytes of the daemon's `challenge.nonce` string,
 * signed with the paired device key.
 */
export function resumeProofEnvelope(challengeNonce: string, privateKey: Ed25519PrivateKey, keyVersion: number): SignedEnvelope {
  return signEnvelope(utf8(challengeNonce), privateKey, keyVersion);
}

/** Options of {@link verifyEnvelope}. */
export interface VerifyEnvelopeOptions {
  /** Accept only this key version (a trusted peer's pin); unpinned when absent. */
  keyVersion?: number;
}

/**
 * Verifies an envelope strictly against a key the caller already trusts; the envelope's own
 * `bridge_pubkey_multibase` plays no part. `payload` may be a byte array or a string (its UTF-8
 * bytes), as receivers accept; `sig` must be 64 byte values.
 *
 * @param expectedPublicKey - The trusted key: multibase text or 32 raw bytes.
 * @returns `false` for any malformed field, wrong key, wrong version pin or bad signature.
 */
export function verifyEnvelope(envelope: SignedEnvelope | { payload: string | readonly number[]; sig: readonly number[]; key_version: number }, expectedPublicKey: string | Uint8Array, options: VerifyEnvelopeOptions = {}): boolean {
  let key: Uint8Array;
  try {
    key = typeof expectedPublicKey === "string" ? decodePublicKeyMultibase(expectedPublicKey) : expectedPublicKey;
  } catch {
    return false;
  }
  const version = envelope.key_version;
  if (!Number.isInteger(version) || version < 0 || version > 0xffff_ffff) return false;
  if (options.keyVersion !== undefined && options.keyVersion !== version) return false;
  const payload = typeof envelope.payload === "string" ? utf8(envelope.payload) : byteArray(envelope.payload);
  const sig = byteArray(envelope.sig);
  if (!payload || !sig || sig.length !== 64) return false;
  return verifyEd25519Strict(key, envelopeSigningBytes(payload, version), sig);
}
