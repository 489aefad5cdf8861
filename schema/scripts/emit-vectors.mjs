// Emits vectors made by this package, for the Rust crate to verify (examples/verify_ts_vectors.rs
// and tests/ts_vectors.rs): release certificates, request signatures, whole heartbeats with the
// verdict this package's ReleaseVerifier gives them, pairing transcripts/proofs/confirms and
// signed envelopes, each with tampered or strictness-probing variants. Every "valid"/"expect"
// field is this package's own verdict, so the Rust side checks that both give the same one.
//
// Usage: node scripts/emit-vectors.mjs [--random] [--out FILE]
//   default: fixed keys, nonces and timestamps, so the output is byte-identical on every run (the
//   checked-in copy is tests/data/ts_vectors.json); --random: fresh keys, nonces and the clock.
import { randomBytes, createHash } from "node:crypto";
import { writeFileSync } from "node:fs";

import {
  certificatePayload,
  ed25519PublicKey,
  encodePublicKeyMultibase,
  issueReleaseCredential,
  pairConfirm,
  pairProof,
  pairTranscript,
  ReleaseVerifier,
  signEd25519,
  signEnvelope,
  signReleaseRequest,
  verifyCertificate,
  verifyEnvelope,
  verifyRequestSignature,
} from "../dist/index.js";

const random = process.argv.includes("--random");
const outAt = process.argv.indexOf("--out");
const out = outAt >= 0 ? process.argv[outAt + 1] : null;

/** 32 (or n) bytes: random, or derived from a label so the default run is deterministic. */
const bytes = (label, n = 32) => Uint8Array.from(random ? randomBytes(n) : createHash("sha512").update(`wavekat ts vectors/${label}`).digest().subarray(0, n));
const hex = (b) => Buffer.from(b).toString("hex");
const b64 = (b) => Buffer.from(b).toString("base64");
const utf8 = (s) => Uint8Array.from(Buffer.from(s, "utf8"));
const NOW = random ? Math.floor(Date.now() / 1000) : 1_800_000_000;
const HEARTBEAT = "/api/voice/installs/heartbeat";
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const IDENTITY = "01" + "00".repeat(31);

/** The signature with S replaced by S + L: the same equation, a non-canonical encoding. */
function sPlusL(signatureHex) {
  const sig = Buffer.from(signatureHex, "hex");
  let s = sig.subarray(32).reduceRight((n, b) => (n << 8n) | BigInt(b), 0n) + L;
  for (let i = 32; i < 64; i++, s >>= 8n) sig[i] = Number(s & 0xffn);
  return sig.toString("hex");
}

const masterSeed = bytes("master");
const masterPublicKey = hex(ed25519PublicKey(masterSeed));
const foreignMaster = bytes("foreign master");

// Certificates.
const certificates = [];
const credentials = [];
for (const version of ["0.1.0", "1.4.2", "2.0.0-beta.1+build.7"]) {
  const credential = issueReleaseCredential(masterSeed, version, bytes(`per-version ${version}`));
  credentials.push(credential);
  const cert = (v, publicKey, certificate, note) => ({ note, version: v, publicKey, certificate, valid: verifyCertificate(masterPublicKey, v, publicKey, certificate) });
  certificates.push(cert(version, credential.publicKey, credential.certificate, "issued"));
  certificates.push(cert(`${version}.1`, credential.publicKey, credential.certificate, "another version"));
  certificates.push(cert(version, credential.publicKey, issueReleaseCredential(foreignMaster, version, bytes(`per-version ${version}`)).certificate, "foreign master"));
  certificates.push(cert(version, credential.publicKey, sPlusL(credential.certificate), "non-canonical S"));
}
certificates.push({
  note: "small-order key, certified",
  version: "1.4.2",
  publicKey: IDENTITY,
  certificate: hex(signEd25519(masterSeed, utf8(certificatePayload("1.4.2", IDENTITY)))),
});
certificates.at(-1).valid = verifyCertificate(masterPublicKey, "1.4.2", IDENTITY, certificates.at(-1).certificate);

// Request signatures.
const requests = [];
const bodies = ['{"installId":"x"}', "", '{"appVersion":"1.0.0","os":"linux","locale":"zh-Hans","note":"首"}'];
for (const [i, credential] of credentials.entries()) {
  for (const [j, body] of bodies.entries()) {
    const s = signReleaseRequest(credential, { method: "POST", path: HEARTBEAT, body, timestamp: NOW - i - j, nonce: bytes(`nonce ${i} ${j}`, 16) });
    const entry = (note, fields) => {
      const r = { note, publicKey: credential.publicKey, timestamp: s.timestamp, nonce: s.nonce, method: "POST", path: HEARTBEAT, body, signature: s.signature, ...fields };
      return { ...r, body: b64(utf8(r.body)), valid: verifyRequestSignature(r) };
    };
    requests.push(entry("signed"));
    requests.push(entry("body changed", { body: body + " " }));
    requests.push(entry("lower-case method is upper-cased", { method: "post" }));
    requests.push(entry("path changed", { path: "/api/voice/installs/events" }));
    requests.push(entry("timestamp changed", { timestamp: s.timestamp + 1 }));
    requests.push(entry("non-canonical S", { signature: sPlusL(s.signature) }));
  }
}
requests.push({ note: "identity key, R = identity, S = 0", publicKey: IDENTITY, timestamp: NOW, nonce: "00".repeat(16), method: "POST", path: HEARTBEAT, body: b64(utf8("{}")), signature: "01" + "00".repeat(63) });
requests.at(-1).valid = verifyRequestSignature({ ...requests.at(-1), body: "{}" });

// Whole heartbeats, each submitted in order to one verifier whose clock reads `now`.
const heartbeats = [];
async function heartbeat(note, now, request, submissions = 1) {
  const verifier = new ReleaseVerifier({ masterPublicKey, now: () => now * 1000 });
  const expect = [];
  for (let i = 0; i < submissions; i++) {
    const verdict = await verifier.verify(request);
    expect.push(verdict.ok ? "ok" : verdict.rejection.code);
  }
  heartbeats.push({ note, now, method: request.method, path: request.path, headers: request.headers, body: b64(utf8(request.body)), expect });
}
const heartbeatBody = JSON.stringify({ installId: "ts-vectors", appVersion: "1.4.2", os: "linux", arch: "x86_64", distribution: "direct" });
const signedHeartbeat = (credential, timestamp, label) => {
  const s = signReleaseRequest(credential, { method: "POST", path: HEARTBEAT, body: heartbeatBody, timestamp, nonce: bytes(label, 16) });
  return { method: "POST", path: HEARTBEAT, headers: { "content-type": "application/json", ...s.headers }, body: heartbeatBody };
};
await heartbeat("accepted once, then a replay", NOW, signedHeartbeat(credentials[1], NOW, "hb replay"), 2);
await heartbeat("300 s old", NOW, signedHeartbeat(credentials[1], NOW - 300, "hb old"));
await heartbeat("301 s old", NOW, signedHeartbeat(credentials[1], NOW - 301, "hb stale"));
{
  const r = signedHeartbeat(credentials[1], NOW, "hb body");
  await heartbeat("body changed after signing", NOW, { ...r, body: r.body.replace("linux", "macos") });
}
{
  const r = signedHeartbeat(credentials[1], NOW, "hb version");
  await heartbeat("claims another build version", NOW, { ...r, headers: { ...r.headers, "x-wk-build-version": "0.1.0" } });
}
{
  const r = signedHeartbeat(issueReleaseCredential(foreignMaster, "1.4.2", bytes("foreign per-version")), NOW, "hb foreign");
  await heartbeat("certified by a foreign master", NOW, r);
}
{
  const r = signedHeartbeat(credentials[1], NOW, "hb small order");
  const certificate = hex(signEd25519(masterSeed, utf8(certificatePayload("1.4.2", IDENTITY))));
  await heartbeat("small-order key certified by the master, forged signature", NOW, {
    ...r,
    headers: { ...r.headers, "x-wk-pub": IDENTITY, "x-wk-cert": certificate, "x-wk-sig": "01" + "00".repeat(63) },
  });
}
{
  const r = signedHeartbeat(credentials[1], NOW, "hb scheme");
  await heartbeat("scheme 1", NOW, { ...r, headers: { ...r.headers, "x-wk-sig-ver": "1" } });
}
{
  const r = signedHeartbeat(credentials[1], NOW, "hb ts");
  await heartbeat("timestamp with a leading zero", NOW, { ...r, headers: { ...r.headers, "x-wk-sig-ts": `0${NOW}` } });
}

// Pairing transcripts, proofs and confirms.
const pairings = [];
for (const agent of ["mur", "wavekat-voice"]) {
  const phone = bytes(`phone ${agent}`);
  const daemon = bytes(`daemon ${agent}`);
  const fields = {
    proto: 2,
    agent,
    wid: `w-${hex(bytes(`wid ${agent}`, 4))}`,
    did: encodePublicKeyMultibase(ed25519PublicKey(daemon)),
    phonePubkey: encodePublicKeyMultibase(ed25519PublicKey(phone)),
    nonce: bytes(`pair nonce ${agent}`),
  };
  const token = `${hex(bytes(`token ${agent}`, 8))}-${agent}`;
  pairings.push({
    token, proto: fields.proto, agent, wid: fields.wid, did: fields.did, pubkey: fields.phonePubkey, nonce: hex(fields.nonce),
    transcript: hex(pairTranscript("phone->daemon", fields)),
    proof: hex(pairProof(token, fields)),
    confirm: hex(pairConfirm(token, fields)),
  });
}

// Envelopes.
const envelopes = [];
const device = bytes("device");
const deviceKey = encodePublicKeyMultibase(ed25519PublicKey(device));
const otherKey = encodePublicKeyMultibase(ed25519PublicKey(bytes("other device")));
for (const [payload, keyVersion] of [
  ['{"id":1,"jsonrpc":"2.0","method":"message/send"}', 1],
  ["6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b", 0],
  ['{"id":7,"jsonrpc":"2.0","method":"channel/hitl_respond","params":{"ok":true}}', 4_000_000_000],
]) {
  const envelope = signEnvelope(payload, device, keyVersion);
  const entry = (note, e, expectedKey) => ({
    note, expectedKey, keyVersion: e.key_version, payload: b64(Uint8Array.from(e.payload)), sig: hex(Uint8Array.from(e.sig)),
    valid: verifyEnvelope(e, expectedKey),
  });
  envelopes.push(entry("signed", envelope, deviceKey));
  envelopes.push(entry("another expected key", envelope, otherKey));
  envelopes.push(entry("key version changed", { ...envelope, key_version: keyVersion === 0 ? 1 : keyVersion - 1 }, deviceKey));
  envelopes.push(entry("payload changed", { ...envelope, payload: [...envelope.payload, 32] }, deviceKey));
  envelopes.push(entry("non-canonical S", { ...envelope, sig: Array.from(Buffer.from(sPlusL(hex(Uint8Array.from(envelope.sig))), "hex")) }, deviceKey));
}
{
  const identity = encodePublicKeyMultibase(Buffer.from(IDENTITY, "hex"));
  const forged = { payload: [1, 2, 3], sig: [1, ...Array(63).fill(0)], key_version: 0, bridge_pubkey_multibase: identity };
  envelopes.push({ note: "identity key, R = identity, S = 0", expectedKey: identity, keyVersion: 0, payload: b64(Uint8Array.from(forged.payload)), sig: hex(Uint8Array.from(forged.sig)), valid: verifyEnvelope(forged, identity) });
}

const vectors = { release: { masterPublicKey, certificates, requests, heartbeats }, pairings, envelopes };
const text = JSON.stringify(vectors, null, 2) + "\n";
if (out) writeFileSync(out, text);
else process.stdout.write(text);
