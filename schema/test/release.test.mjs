// Release signing, scheme 2: the contract's known answers, the Rust crate's certificates, request
// signatures and a heartbeat captured off its wire, and the verifier's freshness, replay and
// refusal rules (the same codes as the Rust ReleaseVerifier).
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  certificatePayload,
  InMemoryReplayMemory,
  issueReleaseCredential,
  RELEASE_HEADERS,
  RELEASE_SIGNATURE_HEADER_NAMES,
  ReleaseVerifier,
  ReplayMemoryFullError,
  requestPayload,
  signEd25519,
  signReleaseRequest,
  verifyCertificate,
  verifyRequestSignature,
} from "../dist/index.js";
import { fromBase64, rustVectors } from "./helpers/vectors.mjs";

const HEARTBEAT = "/api/voice/installs/heartbeat";
// CONTRACT.md §5.3 full known-answer vector.
const KAT = {
  seed: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
  publicKey: "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
  masterSeed: "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
  masterPublicKey: "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7",
  version: "0.0.22",
  certificate: "03ede1971c40fed1b00b6f1051f627866e3492a357c1826353ad732deca4b576e4f07e1292c75e5329fa0d2e4040547669ac8e5d0c6f495d993952f7b9e1960f",
  body: '{"installId":"x"}',
  timestamp: 1700000000,
  nonce: "000102030405060708090a0b0c0d0e0f",
  signature: "78c9d4160552283971580f2d6a516a87acecb57d6aa6f1163bb8b6992e20ef86edbbb84a17d1af6ebdaaaa93afef097c6bf6e3195736dbb876bd6af44c65800c",
};
const seed = (h) => Uint8Array.from(Buffer.from(h, "hex"));

test("signed strings have the contract's exact layouts", () => {
  assert.equal(requestPayload(1700000000, "deadbeef", "POST", HEARTBEAT, "abc123"), "WKSIG2\n1700000000\ndeadbeef\nPOST\n/api/voice/installs/heartbeat\nabc123");
  assert.equal(certificatePayload("0.0.22", "ab12"), "WKCERT2\n0.0.22\nab12");
});

test("the contract's known-answer certificate and request signature verify, and are reproduced", () => {
  assert.equal(verifyCertificate(KAT.masterPublicKey, KAT.version, KAT.publicKey, KAT.certificate), true);
  const input = { publicKey: KAT.publicKey, timestamp: KAT.timestamp, nonce: KAT.nonce, method: "POST", path: HEARTBEAT, body: KAT.body, signature: KAT.signature };
  assert.equal(verifyRequestSignature(input), true);
  const credential = issueReleaseCredential(seed(KAT.masterSeed), KAT.version, seed(KAT.seed));
  assert.equal(credential.publicKey, KAT.publicKey);
  assert.equal(credential.certificate, KAT.certificate);
  const signed = signReleaseRequest(credential, { method: "post", path: HEARTBEAT, body: KAT.body, timestamp: KAT.timestamp, nonce: seed(KAT.nonce) });
  assert.equal(signed.signature, KAT.signature);
});

test("Rust certificates verify, and only for the version they were issued for", () => {
  const { masterPublicKey, certificates } = rustVectors.release;
  assert.ok(certificates.length >= 3);
  for (const c of certificates) {
    assert.equal(verifyCertificate(masterPublicKey, c.version, c.publicKey, c.certificate), true, c.version);
    assert.equal(verifyCertificate(masterPublicKey, `${c.version}.1`, c.publicKey, c.certificate), false);
    assert.equal(verifyCertificate(KAT.masterPublicKey, c.version, c.publicKey, c.certificate), false, "a foreign master");
  }
});

test("Rust request signatures verify; a changed body, method, path, timestamp or nonce is refused", () => {
  const { requests } = rustVectors.release;
  assert.ok(requests.length >= 9);
  for (const r of requests) {
    const input = { ...r, body: fromBase64(r.body) };
    assert.equal(verifyRequestSignature(input), true);
    assert.equal(verifyRequestSignature({ ...input, body: Uint8Array.from([...input.body, 0x20]) }), false);
    assert.equal(verifyRequestSignature({ ...input, method: "PUT" }), false);
    assert.equal(verifyRequestSignature({ ...input, path: `${HEARTBEAT}/` }), false);
    assert.equal(verifyRequestSignature({ ...input, timestamp: r.timestamp + 1 }), false);
    assert.equal(verifyRequestSignature({ ...input, nonce: r.nonce.replace(/^./, (c) => (c === "0" ? "1" : "0")) }), false);
    assert.match(r.nonce, /^[0-9a-f]{32}$/);
  }
});

/** The heartbeat the Rust client sent, as a server would receive it. */
function capturedHeartbeat() {
  const c = rustVectors.release.captured;
  const [method, target] = c.requestLine.split(" ");
  assert.equal(target, `/prefix${c.apiPath}`, "sent to base + path");
  return { method, path: c.apiPath, headers: c.headers, body: fromBase64(c.body), timestamp: Number(c.headers["x-wk-sig-ts"]) };
}

test("the heartbeat captured off the Rust client's wire is accepted once, then refused as a replay", async () => {
  const request = capturedHeartbeat();
  assert.equal(request.headers.authorization, undefined, "no bearer on a public route");
  assert.equal(request.headers["content-type"], "application/json");
  assert.equal(request.headers["x-wk-sig-ver"], "2");
  const verifier = new ReleaseVerifier({ masterPublicKey: rustVectors.release.masterPublicKey, now: () => request.timestamp * 1000 });
  const first = await verifier.verify(request);
  assert.equal(first.ok, true, JSON.stringify(first));
  assert.equal(first.release.buildVersion, request.headers["x-wk-build-version"]);
  assert.equal(first.release.nonce, request.headers["x-wk-sig-nonce"]);
  const second = await verifier.verify(request);
  assert.deepEqual(second, { ok: false, rejection: { code: "replayed", message: "replayed request: this nonce was already used" } });
});

test("the captured heartbeat is refused with its body changed by one byte", async () => {
  const request = capturedHeartbeat();
  const body = Uint8Array.from(request.body);
  body[body.length - 1] ^= 1;
  const verifier = new ReleaseVerifier({ masterPublicKey: rustVectors.release.masterPublicKey, now: () => request.timestamp * 1000 });
  const verdict = await verifier.verify({ ...request, body });
  assert.equal(verdict.rejection?.code, "bad_signature");
});

// A verifier and a signer with a pinned clock, for the rules below.
const master = seed("11".repeat(32));
const masterPublicKey = issueReleaseCredential(master, "x", master).publicKey;
const credential = issueReleaseCredential(master, "1.4.2", seed("22".repeat(32)));
const NOW = 1_800_000_000;
let counter = 0;
function signed(overrides = {}) {
  const nonce = Uint8Array.from(Buffer.alloc(16, 0));
  new DataView(nonce.buffer).setUint32(0, ++counter);
  const body = overrides.body ?? '{"installId":"i","appVersion":"1.4.2","os":"linux"}';
  const s = signReleaseRequest(overrides.credential ?? credential, { method: "POST", path: HEARTBEAT, body, timestamp: overrides.timestamp ?? NOW, nonce });
  return { method: "POST", path: HEARTBEAT, headers: { ...s.headers }, body };
}
const verifier = (options = {}) => new ReleaseVerifier({ masterPublicKey, now: () => NOW * 1000, ...options });
const code = async (v, request) => {
  const verdict = await v.verify(request);
  return verdict.ok ? "ok" : verdict.rejection.code;
};

test("freshness: 300 s old is accepted, 301 s old is stale", async () => {
  assert.equal(await code(verifier(), signed({ timestamp: NOW - 300 })), "ok");
  assert.equal(await code(verifier(), signed({ timestamp: NOW - 301 })), "stale");
});

test("freshness: 30 s ahead is accepted, 31 s ahead is refused as stale", async () => {
  assert.equal(await code(verifier(), signed({ timestamp: NOW + 30 })), "ok");
  assert.equal(await code(verifier(), signed({ timestamp: NOW + 31 })), "stale");
});

test("freshness: both bounds are options", async () => {
  const v = verifier({ maxAgeSeconds: 10, maxFutureSkewSeconds: 0 });
  assert.equal(await code(v, signed({ timestamp: NOW - 10 })), "ok");
  assert.equal(await code(v, signed({ timestamp: NOW - 11 })), "stale");
  assert.equal(await code(v, signed({ timestamp: NOW + 1 })), "stale");
  assert.throws(() => verifier({ maxAgeSeconds: -1 }), TypeError);
});

test("replay: a nonce is refused the second time, also from another verifier sharing the memory", async () => {
  const replayMemory = new InMemoryReplayMemory({ now: () => NOW * 1000 });
  const request = signed();
  assert.equal(await code(verifier({ replayMemory }), request), "ok");
  assert.equal(await code(verifier({ replayMemory }), request), "replayed");
  assert.equal(replayMemory.size, 1);
});

test("replay: a refused request does not burn its nonce", async () => {
  const v = verifier();
  const request = signed();
  assert.equal(await code(v, { ...request, body: request.body + " " }), "bad_signature");
  assert.equal(await code(v, request), "ok");
});

test("replay: the caller's own store is used, asynchronously, with key, nonce and expiry", async () => {
  const calls = [];
  const store = new Set();
  const replayMemory = {
    async checkAndRemember(key, nonce, expiresAtMs) {
      calls.push({ key, nonce, expiresAtMs });
      if (store.has(`${key}/${nonce}`)) return false;
      store.add(`${key}/${nonce}`);
      return true;
    },
  };
  const request = signed({ timestamp: NOW - 5 });
  assert.equal(await code(verifier({ replayMemory }), request), "ok");
  assert.equal(await code(verifier({ replayMemory }), request), "replayed");
  assert.deepEqual(calls[0], { key: credential.publicKey, nonce: request.headers["x-wk-sig-nonce"], expiresAtMs: (NOW - 5 + 301) * 1000 });
});

test("replay: a full memory refuses with nonce_memory_full; other store failures propagate", async () => {
  const full = { checkAndRemember: () => { throw new ReplayMemoryFullError(); } };
  assert.equal(await code(verifier({ replayMemory: full }), signed()), "nonce_memory_full");
  const broken = { checkAndRemember: async () => { throw new Error("store down"); } };
  await assert.rejects(verifier({ replayMemory: broken }).verify(signed()), /store down/);
});

test("certificate: a foreign master, or a certificate for another version, is refused", async () => {
  const foreign = issueReleaseCredential(seed("33".repeat(32)), "1.4.2");
  assert.equal(await code(verifier(), signed({ credential: foreign })), "bad_certificate");
  const request = signed();
  request.headers[RELEASE_HEADERS.buildVersion] = "1.4.3";
  assert.equal(await code(verifier(), request), "bad_certificate");
});

test("headers: a missing one is named; a wrong scheme is refused", async () => {
  for (const name of Object.values(RELEASE_HEADERS)) {
    const request = signed();
    delete request.headers[name];
    const verdict = await verifier().verify(request);
    assert.deepEqual([verdict.rejection?.code, verdict.rejection?.header], ["missing_header", name], name);
  }
  const request = signed();
  request.headers[RELEASE_HEADERS.sigVer] = "1";
  assert.equal(await code(verifier(), request), "unsupported_scheme");
});

test("headers: malformed values are refused and named, never echoed", async () => {
  const cases = [
    [RELEASE_HEADERS.sigTs, "01800000000"],
    [RELEASE_HEADERS.sigTs, "+1800000000"],
    [RELEASE_HEADERS.sigTs, "18446744073709551616"],
    [RELEASE_HEADERS.sigNonce, "00".repeat(15)],
    [RELEASE_HEADERS.sigNonce, "zz".repeat(16)],
    [RELEASE_HEADERS.buildVersion, "1.4.2 beta"],
    [RELEASE_HEADERS.buildVersion, ""],
    [RELEASE_HEADERS.pub, "ab".repeat(31)],
    [RELEASE_HEADERS.pub, "02" + "00".repeat(31)], // y = 2 is not on the curve
    [RELEASE_HEADERS.cert, "0".repeat(127)],
    [RELEASE_HEADERS.sig, "g".repeat(128)],
  ];
  for (const [name, value] of cases) {
    const request = signed();
    request.headers[name] = value;
    const verdict = await verifier().verify(request);
    assert.deepEqual([verdict.rejection?.code, verdict.rejection?.header], ["malformed_header", name], `${name}: ${value}`);
    if (value.length > 3) assert.ok(!verdict.rejection.message.includes(value), "the value is not echoed");
  }
});

test("headers: a repeated header is malformed; names match case-insensitively; upper-case hex is accepted", async () => {
  const repeated = signed();
  repeated.headers[RELEASE_HEADERS.sig] = [repeated.headers[RELEASE_HEADERS.sig], repeated.headers[RELEASE_HEADERS.sig]];
  assert.equal(await code(verifier(), repeated), "malformed_header");
  const twoSpellings = signed();
  twoSpellings.headers["X-WK-Sig"] = twoSpellings.headers[RELEASE_HEADERS.sig];
  assert.equal(await code(verifier(), twoSpellings), "malformed_header");
  const single = signed();
  single.headers[RELEASE_HEADERS.sig] = [single.headers[RELEASE_HEADERS.sig]];
  assert.equal(await code(verifier(), single), "ok", "a one-element array is one value");
  const shouting = signed();
  const upper = Object.fromEntries(Object.entries(shouting.headers).map(([k, v]) => [k.toUpperCase(), k === "x-wk-build-version" ? v : v.toUpperCase()]));
  assert.equal(await code(verifier(), { ...shouting, headers: upper }), "ok");
});

test("headers: a fetch Headers object is accepted", async () => {
  const request = signed();
  assert.equal(await code(verifier(), { ...request, headers: new Headers(request.headers) }), "ok");
});

test("a body may be an ArrayBuffer (fetch's request.arrayBuffer()) or bytes, with the same verdict as the string", async () => {
  const request = signed();
  const bytes = new TextEncoder().encode(request.body);
  assert.equal(await code(verifier(), { ...request, body: bytes.buffer.slice(0) }), "ok");
  const again = signed();
  assert.equal(await code(verifier(), { ...again, body: Buffer.from(again.body) }), "ok");
});

test("signature: a small-order per-version key certified by the master is still refused", async () => {
  // The identity key with R = identity and S = 0 satisfies the lenient equation for any message;
  // the master certifies it, so only the strict check stands in the way.
  const identity = "01" + "00".repeat(31);
  const request = signed();
  request.headers[RELEASE_HEADERS.pub] = identity;
  request.headers[RELEASE_HEADERS.cert] = Buffer.from(signEd25519(master, Buffer.from(certificatePayload("1.4.2", identity)))).toString("hex");
  request.headers[RELEASE_HEADERS.sig] = "01" + "00".repeat(63);
  assert.equal(verifyCertificate(masterPublicKey, "1.4.2", identity, request.headers[RELEASE_HEADERS.cert]), true);
  assert.equal(await code(verifier(), request), "bad_signature");
});

test("signature: a non-canonical S (S + L) is refused", async () => {
  const request = signed();
  const sig = Buffer.from(request.headers[RELEASE_HEADERS.sig], "hex");
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  let s = sig.subarray(32).reduceRight((n, b) => (n << 8n) | BigInt(b), 0n) + L;
  for (let i = 32; i < 64; i++, s >>= 8n) sig[i] = Number(s & 0xffn);
  request.headers[RELEASE_HEADERS.sig] = sig.toString("hex");
  assert.equal(await code(verifier(), request), "bad_signature");
});

test("a master key that is not a strict point is refused at construction", () => {
  assert.throws(() => new ReleaseVerifier({ masterPublicKey: "01" + "00".repeat(31) }), TypeError);
  assert.throws(() => new ReleaseVerifier({ masterPublicKey: "xyz" }), TypeError);
});

test("the verifier's header names are the ones the contract declares on signed operations", () => {
  assert.deepEqual([...Object.values(RELEASE_HEADERS)].sort(), [...RELEASE_SIGNATURE_HEADER_NAMES]);
});
