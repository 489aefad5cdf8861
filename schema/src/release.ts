// Release signing, scheme version 2 (CONTRACT.md §5), implemented from the contract:
// the certificate payload `WKCERT2\n<version>\n<public key hex>` signed by the release master key,
// and the request string `WKSIG2\n<ts>\n<nonce>\n<METHOD>\n<path>\n<sha256 hex of body>` signed by
// the per-version key. Both joined by "\n" with no trailing newline.

import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";

import { bytesToHex, hexToBytes, utf8 } from "./bytes.js";
import { ed25519PrivateKey, ed25519PublicKey, isEd25519Point, isStrictEd25519Point, signEd25519, verifyEd25519Strict, type Ed25519PrivateKey } from "./ed25519.js";
import { InMemoryReplayMemory, ReplayMemoryFullError, type ReplayMemory } from "./replay.js";

/** The signature scheme version carried in `X-WK-Sig-Ver`. */
export const SIG_SCHEME_VERSION = "2";

/** Lower-case names of the headers a release-signed request carries (HTTP names are case-insensitive). */
export const RELEASE_HEADERS = {
  /** Scheme version, `2`. */
  sigVer: "x-wk-sig-ver",
  /** Signed unix timestamp, whole seconds, canonical decimal. */
  sigTs: "x-wk-sig-ts",
  /** Signed nonce, 16 bytes as 32 hex characters. */
  sigNonce: "x-wk-sig-nonce",
  /** The build version the certificate binds. */
  buildVersion: "x-wk-build-version",
  /** Per-version public key, 64 hex characters. */
  pub: "x-wk-pub",
  /** The master's certificate over the per-version key, 128 hex characters. */
  cert: "x-wk-cert",
  /** The per-version key's signature over the request, 128 hex characters. */
  sig: "x-wk-sig",
} as const;

/** Default: a request whose timestamp is more than this many seconds old is stale. */
export const DEFAULT_MAX_AGE_SECONDS = 300;
/** Default: a request whose timestamp is more than this many seconds ahead of the clock is refused. */
export const DEFAULT_MAX_FUTURE_SKEW_SECONDS = 30;

const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
/** A request body: its exact bytes (a string is taken as its UTF-8 bytes). */
export type BodyBytes = Uint8Array | ArrayBuffer | string;
const asBytes = (body: BodyBytes): Uint8Array => (typeof body === "string" ? utf8(body) : body instanceof Uint8Array ? body : new Uint8Array(body));
const asciiUpper = (text: string): string => text.replace(/[a-z]/g, (c) => c.toUpperCase());
const isVisibleAscii = (text: string): boolean => /^[\x21-\x7e]+$/.test(text);

/**
 * The certificate payload the release master key signs: `WKCERT2\n<version>\n<publicKeyHex>`, no
 * trailing newline. Both values are used verbatim.
 */
export function certificatePayload(version: string, publicKeyHex: string): string {
  return ["WKCERT" + SIG_SCHEME_VERSION, version, publicKeyHex].join("\n");
}

/**
 * The request string the per-version key signs:
 * `WKSIG2\n<timestamp>\n<nonceHex>\n<METHOD>\n<path>\n<bodySha256Hex>`, no trailing newline.
 * Values are used verbatim (callers upper-case the method and lower-case the nonce first).
 */
export function requestPayload(timestamp: number | bigint, nonceHex: string, method: string, path: string, bodySha256Hex: string): string {
  return ["WKSIG" + SIG_SCHEME_VERSION, String(timestamp), nonceHex, method, path, bodySha256Hex].join("\n");
}

/** The request string for a received request: method upper-cased (ASCII), body hashed as given. */
function requestMessage(timestamp: bigint, nonceHex: string, method: string, path: string, body: Uint8Array): Uint8Array {
  return utf8(requestPayload(timestamp, nonceHex, asciiUpper(method), path, sha256Hex(body)));
}

/**
 * Whether `certificateHex` is the release master's signature over
 * {@link certificatePayload}`(version, publicKeyHex)`, under strict Ed25519.
 * Hex inputs are trimmed and accepted in either letter case; the payload uses the public key's
 * lower-case form. Malformed input gives `false`.
 */
export function verifyCertificate(masterPublicKeyHex: string, version: string, publicKeyHex: string, certificateHex: string): boolean {
  const master = hexToBytes(masterPublicKeyHex.trim(), 32);
  const publicKey = hexToBytes(publicKeyHex.trim(), 32);
  const certificate = hexToBytes(certificateHex.trim(), 64);
  if (!master || !publicKey || !certificate) return false;
  return verifyEd25519Strict(master, utf8(certificatePayload(version, bytesToHex(publicKey))), certificate);
}

/** The values one release-signed request carries, for {@link verifyRequestSignature}. */
export interface RequestSignatureInput {
  /** The per-version public key, 64 hex characters. */
  publicKey: string;
  /** The signed unix timestamp in whole seconds. */
  timestamp: number | bigint;
  /** The nonce, 32 hex characters. */
  nonce: string;
  /** The HTTP method (upper-cased before checking). */
  method: string;
  /** The API path, without query or mount prefix. */
  path: string;
  /** The exact body bytes (a string is taken as its UTF-8 bytes). */
  body: BodyBytes;
  /** The signature, 128 hex characters. */
  signature: string;
}

/**
 * Whether `input.signature` is the per-version key's strict Ed25519 signature over the request
 * string of these values. Checks the signature only: no certificate, freshness or replay (use
 * {@link ReleaseVerifier} for a received request). Malformed input gives `false`.
 */
export function verifyRequestSignature(input: RequestSignatureInput): boolean {
  const publicKey = hexToBytes(input.publicKey.trim(), 32);
  const nonce = hexToBytes(input.nonce.trim(), 16);
  const signature = hexToBytes(input.signature.trim(), 64);
  const timestamp = typeof input.timestamp === "bigint" ? input.timestamp : Number.isSafeInteger(input.timestamp) ? BigInt(input.timestamp) : -1n;
  if (!publicKey || !nonce || !signature || timestamp < 0n) return false;
  const message = requestMessage(timestamp, bytesToHex(nonce), input.method, input.path, asBytes(input.body));
  return verifyEd25519Strict(publicKey, message, signature);
}

/** What a release build holds to sign requests (see {@link issueReleaseCredential}). */
export interface ReleaseCredential {
  /** The build version the certificate binds. */
  version: string;
  /** The per-version private key. */
  privateKey: KeyObject;
  /** The per-version public key, lower-case hex. */
  publicKey: string;
  /** The master's certificate over `(version, publicKey)`, lower-case hex. */
  certificate: string;
}

/**
 * Issues a credential for `version`: a per-version key pair (fresh unless `perVersionKey` is
 * given) and the master's certificate over it. For release tooling and for tests that need
 * signed requests; the platform itself only verifies.
 *
 * @param masterPrivateKey - The release master private key (KeyObject or 32-byte seed).
 * @param version - Non-empty visible ASCII, no spaces.
 * @param perVersionKey - Use this per-version key instead of generating one.
 * @throws TypeError if the version or a key is unusable.
 */
export function issueReleaseCredential(masterPrivateKey: Ed25519PrivateKey, version: string, perVersionKey?: Ed25519PrivateKey): ReleaseCredential {
  if (!isVisibleAscii(version)) throw new TypeError("version must be non-empty visible ASCII with no spaces");
  const privateKey = perVersionKey === undefined ? generateKeyPairSync("ed25519").privateKey : ed25519PrivateKey(perVersionKey);
  const publicKey = bytesToHex(ed25519PublicKey(privateKey));
  const certificate = bytesToHex(signEd25519(masterPrivateKey, utf8(certificatePayload(version, publicKey))));
  return { version, privateKey, publicKey, certificate };
}

/** What to sign with {@link signReleaseRequest}. */
export interface ReleaseRequestToSign {
  /** The HTTP method (upper-cased). */
  method: string;
  /** The API path, without query or base-URL prefix. */
  path: string;
  /** The exact body bytes that will be sent (a string is taken as its UTF-8 bytes). */
  body: BodyBytes;
  /** Unix seconds to sign (default: now). */
  timestamp?: number;
  /** 16 nonce bytes (default: fresh random). */
  nonce?: Uint8Array;
}

/** A signed request: the signed values and every `X-WK-*` header to send. */
export interface SignedReleaseRequest {
  /** The signed unix timestamp. */
  timestamp: number;
  /** The nonce, lower-case hex. */
  nonce: string;
  /** The signature, lower-case hex. */
  signature: string;
  /** All seven release headers, lower-case names (also send `content-type: application/json`). */
  headers: Record<(typeof RELEASE_HEADERS)[keyof typeof RELEASE_HEADERS], string>;
}

/**
 * Signs one request with a release credential, as a release build does.
 *
 * @throws TypeError if the timestamp is not a non-negative safe integer or the nonce is not 16 bytes.
 */
export function signReleaseRequest(credential: ReleaseCredential, request: ReleaseRequestToSign): SignedReleaseRequest {
  const timestamp = request.timestamp ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new TypeError("timestamp must be a non-negative integer of seconds");
  const nonceBytes = request.nonce ?? Uint8Array.from(randomBytes(16));
  if (nonceBytes.length !== 16) throw new TypeError("nonce must be 16 bytes");
  const nonce = bytesToHex(nonceBytes);
  const message = requestMessage(BigInt(timestamp), nonce, request.method, request.path, asBytes(request.body));
  const signature = bytesToHex(signEd25519(credential.privateKey, message));
  return {
    timestamp,
    nonce,
    signature,
    headers: {
      [RELEASE_HEADERS.sigVer]: SIG_SCHEME_VERSION,
      [RELEASE_HEADERS.sigTs]: String(timestamp),
      [RELEASE_HEADERS.sigNonce]: nonce,
      [RELEASE_HEADERS.buildVersion]: credential.version,
      [RELEASE_HEADERS.pub]: credential.publicKey,
      [RELEASE_HEADERS.cert]: credential.certificate,
      [RELEASE_HEADERS.sig]: signature,
    },
  };
}

/**
 * Request headers as a server framework hands them over: a fetch `Headers`-like object (anything
 * with `get`), or a plain object such as Node's `IncomingHttpHeaders` (names matched
 * case-insensitively; an array value means the header was repeated and is refused).
 */
export type HeaderSource =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** One received release-signed request, for {@link ReleaseVerifier.verify}. */
export interface ReceivedRequest {
  /** The HTTP method. */
  method: string;
  /** The API path the request was routed to, without query and without any mount prefix. */
  path: string;
  /** The request headers. */
  headers: HeaderSource;
  /**
   * The exact body bytes received: a `Uint8Array` (a Node `Buffer` is one), an `ArrayBuffer`
   * (fetch's `request.arrayBuffer()`), or a string taken as its UTF-8 bytes.
   */
  body: BodyBytes;
}

/** What {@link ReleaseVerifier.verify} established about an accepted request. */
export interface VerifiedRelease {
  /** The build version the certificate binds (`X-WK-Build-Version`). */
  buildVersion: string;
  /** The per-version public key, lower-case hex. */
  publicKey: string;
  /** The signed timestamp, unix seconds. */
  timestamp: number;
  /** The nonce, lower-case hex. */
  nonce: string;
}

/**
 * Stable codes of a refused request (the same codes as the Rust crate's `VerifyError::code`), for
 * a JSON error body.
 */
export type ReleaseRejectionCode =
  | "missing_header"
  | "malformed_header"
  | "unsupported_scheme"
  | "stale"
  | "bad_certificate"
  | "bad_signature"
  | "replayed"
  | "nonce_memory_full";

/** Why a request was refused. Never echoes a header's value. */
export interface ReleaseRejection {
  /** The stable code. */
  code: ReleaseRejectionCode;
  /** A sentence for logs and error bodies. */
  message: string;
  /** For `missing_header` and `malformed_header`: the header's lower-case name. */
  header?: string;
}

/** The verdict of {@link ReleaseVerifier.verify}. */
export type ReleaseVerification = { ok: true; release: VerifiedRelease } | { ok: false; rejection: ReleaseRejection };

/** Options of {@link ReleaseVerifier}. */
export interface ReleaseVerifierOptions {
  /** The release master public key (`RELEASE_MASTER_PUBKEY`), 64 hex characters. */
  masterPublicKey: string;
  /** Refuse timestamps more than this many seconds in the past (default 300). */
  maxAgeSeconds?: number;
  /** Refuse timestamps more than this many seconds in the future (default 30). */
  maxFutureSkewSeconds?: number;
  /** Where accepted nonces are remembered (default: a new {@link InMemoryReplayMemory}). */
  replayMemory?: ReplayMemory;
  /** The clock, unix milliseconds (default `Date.now`). */
  now?: () => number;
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * Verifies release-signed requests (scheme 2) the way the platform must, holding only the master
 * public key.
 *
 * {@link ReleaseVerifier.verify} checks, in order: every signature header is present once and
 * well-formed; the scheme is `2`; the timestamp is no older than `maxAgeSeconds` and no further
 * ahead than `maxFutureSkewSeconds`; the certificate binds the public key to the claimed build
 * version; the signature covers the method, path, exact body bytes, timestamp and nonce; and the
 * nonce was not accepted before. Signatures are checked with strict Ed25519. The nonce is
 * remembered only once every other check has passed.
 */
export class ReleaseVerifier {
  readonly #master: Uint8Array;
  readonly #maxAge: number;
  readonly #maxFuture: number;
  readonly #replay: ReplayMemory;
  readonly #now: () => number;

  /**
   * @param options - The master public key and, optionally, window, replay memory and clock.
   * @throws TypeError if the master public key is not 64 hex characters encoding a strict
   *   (canonical, not small-order) Ed25519 point, or a window bound is not a non-negative integer.
   */
  constructor(options: ReleaseVerifierOptions) {
    const master = hexToBytes(options.masterPublicKey.trim(), 32);
    if (!master || !isStrictEd25519Point(master)) throw new TypeError("master public key: not a valid Ed25519 public key (64 hex characters)");
    const maxAge = options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
    const maxFuture = options.maxFutureSkewSeconds ?? DEFAULT_MAX_FUTURE_SKEW_SECONDS;
    for (const [name, value] of [["maxAgeSeconds", maxAge], ["maxFutureSkewSeconds", maxFuture]] as const) {
      if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer`);
    }
    this.#master = master;
    this.#maxAge = maxAge;
    this.#maxFuture = maxFuture;
    this.#now = options.now ?? Date.now;
    this.#replay = options.replayMemory ?? new InMemoryReplayMemory({ now: this.#now });
  }

  /**
   * Verifies one received request. Resolves to `{ ok: true, release }` or to
   * `{ ok: false, rejection }` (answer 401 with `rejection.code`); it rejects only when the
   * replay memory throws something other than {@link ReplayMemoryFullError}.
   */
  async verify(request: ReceivedRequest): Promise<ReleaseVerification> {
    const refuse = (code: ReleaseRejectionCode, message: string, header?: string): ReleaseVerification => ({
      ok: false,
      rejection: header === undefined ? { code, message } : { code, message, header },
    });
    const read = readHeaders(request.headers);

    const scheme = read(RELEASE_HEADERS.sigVer);
    if (typeof scheme !== "string") return headerProblem(refuse, scheme, RELEASE_HEADERS.sigVer);
    if (scheme !== SIG_SCHEME_VERSION) return refuse("unsupported_scheme", `unsupported signature scheme (only version ${SIG_SCHEME_VERSION} is accepted)`);

    const tsText = read(RELEASE_HEADERS.sigTs);
    if (typeof tsText !== "string") return headerProblem(refuse, tsText, RELEASE_HEADERS.sigTs);
    const timestamp = parseTimestamp(tsText);
    if (timestamp === null) return refuse("malformed_header", `malformed header ${RELEASE_HEADERS.sigTs}`, RELEASE_HEADERS.sigTs);

    const fixed = (name: string, bytes: number): Uint8Array | ReleaseVerification => {
      const text = read(name);
      if (typeof text !== "string") return headerProblem(refuse, text, name);
      return hexToBytes(text, bytes) ?? refuse("malformed_header", `malformed header ${name}`, name);
    };
    const nonce = fixed(RELEASE_HEADERS.sigNonce, 16);
    if (!(nonce instanceof Uint8Array)) return nonce;

    const buildVersion = read(RELEASE_HEADERS.buildVersion);
    if (typeof buildVersion !== "string") return headerProblem(refuse, buildVersion, RELEASE_HEADERS.buildVersion);
    if (!isVisibleAscii(buildVersion)) return refuse("malformed_header", `malformed header ${RELEASE_HEADERS.buildVersion}`, RELEASE_HEADERS.buildVersion);

    const publicKey = fixed(RELEASE_HEADERS.pub, 32);
    if (!(publicKey instanceof Uint8Array)) return publicKey;
    if (!isEd25519Point(publicKey)) return refuse("malformed_header", `malformed header ${RELEASE_HEADERS.pub}`, RELEASE_HEADERS.pub);
    const certificate = fixed(RELEASE_HEADERS.cert, 64);
    if (!(certificate instanceof Uint8Array)) return certificate;
    const signature = fixed(RELEASE_HEADERS.sig, 64);
    if (!(signature instanceof Uint8Array)) return signature;

    const now = BigInt(Math.floor(this.#now() / 1000));
    if (now - timestamp > BigInt(this.#maxAge) || timestamp - now > BigInt(this.#maxFuture)) {
      return refuse("stale", `stale request: timestamp ${timestamp} is outside the window around ${now}`);
    }

    const publicKeyHex = bytesToHex(publicKey);
    if (!verifyEd25519Strict(this.#master, utf8(certificatePayload(buildVersion, publicKeyHex)), certificate)) {
      return refuse("bad_certificate", "the certificate does not bind this public key to this build version");
    }
    const nonceHex = bytesToHex(nonce);
    if (!verifyEd25519Strict(publicKey, requestMessage(timestamp, nonceHex, request.method, request.path, asBytes(request.body)), signature)) {
      return refuse("bad_signature", "the request signature does not match the request");
    }

    const expiresAtMs = Number((timestamp + BigInt(this.#maxAge) + 1n) * 1000n);
    let fresh: boolean;
    try {
      fresh = await this.#replay.checkAndRemember(publicKeyHex, nonceHex, expiresAtMs);
    } catch (error) {
      if (error instanceof ReplayMemoryFullError) return refuse("nonce_memory_full", "nonce memory is full; try again later");
      throw error;
    }
    if (!fresh) return refuse("replayed", "replayed request: this nonce was already used");
    return { ok: true, release: { buildVersion, publicKey: publicKeyHex, timestamp: Number(timestamp), nonce: nonceHex } };
  }
}

/** A header's single value, `undefined` when absent, `null` when repeated. */
function readHeaders(source: HeaderSource): (name: string) => string | undefined | null {
  if (typeof (source as { get?: unknown }).get === "function") {
    const headers = source as { get(name: string): string | null };
    return (name) => headers.get(name) ?? undefined;
  }
  const record = source as Readonly<Record<string, string | readonly string[] | undefined>>;
  return (name) => {
    let found: string | undefined;
    for (const [key, value] of Object.entries(record)) {
      if (value === undefined || key.toLowerCase() !== name) continue;
      for (const one of typeof value === "string" ? [value] : value) {
        if (found !== undefined) return null;
        found = one;
      }
    }
    return found;
  };
}

function headerProblem(
  refuse: (code: ReleaseRejectionCode, message: string, header?: string) => ReleaseVerification,
  value: undefined | null,
  name: string,
): ReleaseVerification {
  return value === undefined ? refuse("missing_header", `missing header ${name}`, name) : refuse("malformed_header", `malformed header ${name}`, name);
}

/** Canonical decimal (no sign, no leading zeros, no spaces) within u64, else `null`. */
function parseTimestamp(text: string): bigint | null {
  if (!/^(0|[1-9][0-9]*)$/.test(text) || text.length > 20) return null;
  const value = BigInt(text);
  return value <= U64_MAX ? value : null;
}
