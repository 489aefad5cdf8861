// MUR mobile pairing: the contract's worked examples, and the Rust crate's transcripts, proofs,
// confirms and envelopes recomputed and verified; tampered ones refused.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  decodePublicKeyMultibase,
  ed25519PublicKey,
  encodePublicKeyMultibase,
  envelopeSigningBytes,
  pairConfirm,
  pairProof,
  pairTranscript,
  resumeProofEnvelope,
  signEnvelope,
  transcriptFieldsFromFrames,
  validateSchema,
  verifyEnvelope,
  verifyPairConfirm,
  verifyPairProof,
} from "../dist/index.js";
import { fromBase64, fromHex, rustVectors } from "./helpers/vectors.mjs";

const toHex = (bytes) => Buffer.from(bytes).toString("hex");
const PHONE_SEED = new Uint8Array(32).fill(1);
const DAEMON_SEED = new Uint8Array(32).fill(2);

// CONTRACT.md §8.6 worked example A.
const helloInit = { type: "hello_init", proto: 2, agent: "mur", pubkey: "zAKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9", wid: "w1" };
const challenge = { type: "pair_challenge", wid: "w1", nonce: Array(32).fill(7), did: "z9hSR6S7WPtxmTojgo6GG3k4yDPecgJY292j7xrsUGWBu" };

test("multibase keys of the worked example: seeds 0x01.. and 0x02.. encode as the contract shows", () => {
  assert.equal(toHex(ed25519PublicKey(PHONE_SEED)), "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
  assert.equal(encodePublicKeyMultibase(ed25519PublicKey(PHONE_SEED)), helloInit.pubkey);
  assert.equal(encodePublicKeyMultibase(ed25519PublicKey(DAEMON_SEED)), challenge.did);
  assert.deepEqual(decodePublicKeyMultibase(challenge.did), ed25519PublicKey(DAEMON_SEED));
});

test("multibase decoding refuses another base, bad characters, wrong lengths and non-points", () => {
  assert.throws(() => decodePublicKeyMultibase("f" + "00".repeat(32)), /base58btc/);
  assert.throws(() => decodePublicKeyMultibase("z0OIl"), /base58btc/);
  assert.throws(() => decodePublicKeyMultibase("z" + "2".repeat(10)), /expected 32/);
  assert.throws(() => decodePublicKeyMultibase(encodePublicKeyMultibase(fromHex("02" + "00".repeat(31)))), /point/);
  assert.throws(() => decodePublicKeyMultibase("z" + "2".repeat(45)), /longer/);
});

test("worked example A: transcript, proof and confirm are byte-exact", () => {
  const fields = transcriptFieldsFromFrames(helloInit, challenge);
  assert.equal(
    toHex(pairTranscript("phone->daemon", fields)),
    "0b0000006d75722d706169722d7632190000006d75722d706169722d76322f70686f6e652d3e6461656d6f6e02000000030000006d75720200000077312d0000007a39685352365337575074786d546f6a676f364747336b347944506563674a593239326a3778727355475742752d0000007a414b6e4c344e4e66334447575a4a533663506b6e427545476e5673563441346d35746765624c486152535a39200000000707070707070707070707070707070707070707070707070707070707070707",
  );
  assert.equal(toHex(pairProof("example-token", fields)), "bfef7aeab0f663a60fc50212aff908b481474a80463d0a5b9944d7f26c22e855");
  const confirm = [186, 115, 128, 192, 231, 23, 112, 194, 18, 9, 143, 14, 134, 164, 123, 26, 49, 142, 139, 34, 107, 45, 55, 72, 59, 141, 208, 194, 102, 213, 240, 242];
  assert.deepEqual(Array.from(pairConfirm("example-token", fields)), confirm);
  assert.equal(verifyPairConfirm("example-token", fields, confirm), true);
});

test("the transcript layout illustration (4-byte nonce) is 78 bytes as the contract shows", () => {
  const fields = { proto: 2, agent: "mur", wid: "w", did: "d", phonePubkey: "p", nonce: new Uint8Array(4) };
  assert.equal(
    toHex(pairTranscript("phone->daemon", fields)),
    "0b0000006d75722d706169722d7632" + "190000006d75722d706169722d76322f70686f6e652d3e6461656d6f6e" + "02000000" + "030000006d7572" + "0100000077" + "0100000064" + "0100000070" + "0400000000000000",
  );
});

test("a confirm is refused when empty, truncated, reflected from the proof, or for another token or nonce", () => {
  const fields = transcriptFieldsFromFrames(helloInit, challenge);
  const confirm = pairConfirm("example-token", fields);
  assert.equal(verifyPairConfirm("example-token", fields, []), false);
  assert.equal(verifyPairConfirm("example-token", fields, confirm.subarray(0, 31)), false);
  assert.equal(verifyPairConfirm("example-token", fields, pairProof("example-token", fields)), false);
  assert.equal(verifyPairConfirm("other-token", fields, confirm), false);
  assert.equal(verifyPairConfirm("example-token", { ...fields, nonce: new Uint8Array(32).fill(8) }, confirm), false);
  assert.equal(verifyPairConfirm("example-token", fields, [...confirm.subarray(0, 31), 256]), false);
});

test("frames whose wid disagree cannot form a transcript", () => {
  assert.throws(() => transcriptFieldsFromFrames(helloInit, { ...challenge, wid: "w2" }), /wid/);
});

test("Rust pairings: transcripts, proofs and confirms are recomputed byte for byte", () => {
  assert.ok(rustVectors.pairings.length >= 2);
  for (const p of rustVectors.pairings) {
    const fields = { proto: p.proto, agent: p.agent, wid: p.wid, did: p.did, phonePubkey: p.pubkey, nonce: fromHex(p.nonce) };
    assert.equal(toHex(pairTranscript("phone->daemon", fields)), p.transcript);
    assert.equal(toHex(pairProof(p.token, fields)), p.proof);
    assert.equal(toHex(pairConfirm(p.token, fields)), p.confirm);
    assert.equal(verifyPairConfirm(p.token, fields, fromHex(p.confirm)), true);
    assert.equal(verifyPairProof(p.token, fields, fromHex(p.proof)), true);
    assert.equal(verifyPairProof(p.token, { ...fields, agent: p.agent + "x" }, fromHex(p.proof)), false);
  }
});

// CONTRACT.md §8.6 worked example B.
const EXAMPLE_B_SIG = [184, 4, 227, 139, 54, 86, 38, 246, 249, 33, 115, 245, 209, 186, 18, 143, 36, 0, 8, 169, 208, 4, 3, 223, 83, 189, 16, 43, 26, 62, 248, 108, 172, 102, 231, 248, 241, 51, 35, 166, 240, 122, 235, 105, 70, 134, 136, 117, 52, 176, 39, 197, 9, 136, 80, 150, 55, 170, 103, 29, 214, 53, 33, 13];
const EXAMPLE_B_PAYLOAD = '{"id":1,"jsonrpc":"2.0","method":"message/send"}';

test("worked example B: envelope signing bytes and signature are byte-exact, and the frame validates", () => {
  assert.equal(
    toHex(envelopeSigningBytes(Buffer.from(EXAMPLE_B_PAYLOAD), 1)),
    "6d75722d6272696467652d656e76656c6f70652d7631" + "01000000" + Buffer.from(EXAMPLE_B_PAYLOAD).toString("hex"),
  );
  const envelope = signEnvelope(EXAMPLE_B_PAYLOAD, PHONE_SEED, 1);
  assert.deepEqual(envelope.sig, EXAMPLE_B_SIG);
  assert.equal(envelope.bridge_pubkey_multibase, helloInit.pubkey);
  assert.equal(verifyEnvelope(envelope, helloInit.pubkey), true);
  assert.equal(validateSchema("ClientFrame", { type: "envelope", envelope }).valid, true);
});

test("Rust envelopes verify under the expected key; a flipped key version, pin, payload or key is refused", () => {
  assert.ok(rustVectors.envelopes.length >= 3);
  for (const e of rustVectors.envelopes) {
    const envelope = { payload: Array.from(fromBase64(e.payload)), sig: Array.from(fromHex(e.sig)), key_version: e.keyVersion, bridge_pubkey_multibase: e.publicKey };
    assert.equal(verifyEnvelope(envelope, e.publicKey), true);
    assert.equal(verifyEnvelope(envelope, decodePublicKeyMultibase(e.publicKey)), true);
    assert.equal(verifyEnvelope(envelope, e.publicKey, { keyVersion: e.keyVersion }), true);
    assert.equal(verifyEnvelope(envelope, e.publicKey, { keyVersion: e.keyVersion + 1 }), false, "pinned to another version");
    assert.equal(verifyEnvelope({ ...envelope, key_version: e.keyVersion === 0 ? 1 : e.keyVersion - 1 }, e.publicKey), false, "version is covered");
    assert.equal(verifyEnvelope({ ...envelope, payload: [...envelope.payload, 32] }, e.publicKey), false);
    assert.equal(verifyEnvelope({ ...envelope, sig: envelope.sig.slice(0, 63) }, e.publicKey), false);
    assert.equal(verifyEnvelope(envelope, helloInit.pubkey), false, "another key");
    // A receiver also accepts the payload as a JSON string (its UTF-8 bytes).
    assert.equal(verifyEnvelope({ ...envelope, payload: Buffer.from(fromBase64(e.payload)).toString("utf8") }, e.publicKey), true);
  }
});

test("envelopes are refused under a small-order expected key even with a lenient-valid signature", () => {
  const identity = encodePublicKeyMultibase(fromHex("01" + "00".repeat(31)));
  const forged = { payload: [1, 2, 3], sig: [1, ...Array(63).fill(0)], key_version: 0, bridge_pubkey_multibase: identity };
  assert.equal(verifyEnvelope(forged, identity), false);
});

test("a resume proof signs the UTF-8 bytes of the challenge nonce with the paired key", () => {
  const nonce = "6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b";
  const proof = resumeProofEnvelope(nonce, PHONE_SEED, 3);
  assert.deepEqual(proof.payload, Array.from(Buffer.from(nonce)));
  assert.equal(verifyEnvelope(proof, helloInit.pubkey, { keyVersion: 3 }), true);
  assert.equal(validateSchema("ClientFrame", { type: "resume_proof", envelope: proof }).valid, true);
});

test("key versions outside u32 cannot be signed", () => {
  assert.throws(() => signEnvelope("x", PHONE_SEED, 2 ** 32), RangeError);
  assert.throws(() => signEnvelope("x", PHONE_SEED, -1), RangeError);
});
