// Strict Ed25519: the package's verify gives ed25519-dalek verify_strict's verdicts (the Rust
// crate's), including where Node's built-in verify alone is lenient.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createPublicKey, verify as nodeVerify } from "node:crypto";

import { verifyEd25519Strict, signEd25519, ed25519PublicKey } from "../dist/index.js";
import { BASE, IDENTITY, L, ORDER_2, add, challenge, encode, le, leBytes, multiply } from "./helpers/edwards.mjs";

const hex = (h) => Uint8Array.from(Buffer.from(h, "hex"));
const SPKI = Buffer.from("302a300506032b6570032100", "hex");
/** Node's built-in verify with no extra checks: what the package must not rely on alone. */
function nodeAlone(publicKey, message, signature) {
  try {
    return nodeVerify(null, message, createPublicKey({ key: Buffer.concat([SPKI, publicKey]), format: "der", type: "spki" }), signature);
  } catch {
    return false;
  }
}

const RFC8032 = [
  ["9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "", "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"],
  ["4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72", "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"],
  ["c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82", "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"],
];

test("RFC 8032 §7.1 vectors sign, derive their keys and verify; a changed message is refused", () => {
  for (const [secret, publicKey, message, signature] of RFC8032) {
    assert.deepEqual(ed25519PublicKey(hex(secret)), hex(publicKey));
    assert.deepEqual(signEd25519(hex(secret), hex(message)), hex(signature));
    assert.equal(verifyEd25519Strict(hex(publicKey), hex(message), hex(signature)), true);
    const changed = message === "" ? hex("00") : hex(message).map((b, i) => (i === 0 ? b ^ 1 : b));
    assert.equal(verifyEd25519Strict(hex(publicKey), changed, hex(signature)), false);
  }
});

test("Wycheproof ed25519_test.json: all 151 verdicts match, as the Rust strict verify's do", () => {
  const file = JSON.parse(readFileSync(new URL("../../tests/data/wycheproof/ed25519_test.json", import.meta.url), "utf8"));
  let valid = 0;
  let invalid = 0;
  const disagreements = [];
  for (const group of file.testGroups) {
    const publicKey = hex(group.publicKey.pk);
    for (const t of group.tests) {
      assert.ok(t.result === "valid" || t.result === "invalid", `tcId ${t.tcId}: verdict ${t.result}`);
      if (t.result === "valid") valid++;
      else invalid++;
      if (verifyEd25519Strict(publicKey, hex(t.msg), hex(t.sig)) !== (t.result === "valid")) disagreements.push(t.tcId);
    }
  }
  assert.deepEqual([valid, invalid], [88, 63]);
  assert.deepEqual(disagreements, []);
});

const signature = (r, s) => Uint8Array.from([...r, ...leBytes(s)]);

test("the identity key with R = identity, S = 0 forges any message under Node alone; strict refuses it", () => {
  const identity = encode(IDENTITY);
  const forged = signature(identity, 0n);
  const message = Buffer.from("any message at all");
  assert.equal(nodeAlone(identity, message, forged), true, "Node's verify alone accepts (why the checks exist)");
  assert.equal(verifyEd25519Strict(identity, message, forged), false);
});

test("a public key of order 2 is refused even when the cofactorless equation holds", () => {
  const a = encode(ORDER_2);
  const r = encode(IDENTITY);
  // S = 0 satisfies R = S·B - k·A exactly when k is even.
  let message;
  for (let i = 0; ; i++) {
    message = Buffer.from(`order two ${i}`);
    if (challenge(r, a, message) % 2n === 0n) break;
  }
  assert.equal(nodeAlone(a, message, signature(r, 0n)), true);
  assert.equal(verifyEd25519Strict(a, message, signature(r, 0n)), false);
});

test("a small-order R is refused even under a mixed-order key where the equation holds", () => {
  // A = a·B + T (T of order 2) is not of small order, so strict accepts A itself. With R = T and
  // k odd, S = k·a makes S·B - k·A = -T = T, so the equation holds byte for byte.
  const scalar = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321n;
  const a = encode(add(multiply(BASE, scalar), ORDER_2));
  const r = encode(ORDER_2);
  let message;
  for (let i = 0; ; i++) {
    message = Buffer.from(`mixed order ${i}`);
    if (challenge(r, a, message) % 2n === 1n) break;
  }
  const s = (challenge(r, a, message) * scalar) % L;
  assert.equal(nodeAlone(a, message, signature(r, s)), true);
  assert.equal(verifyEd25519Strict(a, message, signature(r, s)), false);
});

test("a mixed-order key with an honest prime-order R still verifies (only small order is refused)", () => {
  const scalar = 0x0badc0ffeen;
  const a = encode(add(multiply(BASE, scalar), ORDER_2));
  const nonce = 0x5eedn;
  const r = encode(multiply(BASE, nonce));
  let message;
  for (let i = 0; ; i++) {
    message = Buffer.from(`honest ${i}`);
    if (challenge(r, a, message) % 2n === 0n) break; // k even: k·T vanishes
  }
  const s = (nonce + challenge(r, a, message) * scalar) % L;
  assert.equal(verifyEd25519Strict(a, message, signature(r, s)), true);
});

test("a non-canonical S (S + L) is refused", () => {
  const [, publicKey, message, sig] = RFC8032[0];
  const bytes = hex(sig);
  const s = le(bytes.subarray(32));
  assert.equal(verifyEd25519Strict(hex(publicKey), hex(message), signature(bytes.subarray(0, 32), s + L)), false);
  assert.equal(verifyEd25519Strict(hex(publicKey), hex(message), bytes), true);
});

test("non-canonical encodings of a key are refused: y >= p, and x = 0 with the sign bit set", () => {
  const forged = signature(encode(IDENTITY), 0n);
  const message = Buffer.from("m");
  const yPlusP = leBytes((1n << 255n) - 19n + 1n); // the identity's y = 1, plus p
  const negativeZero = encode(IDENTITY);
  negativeZero[31] |= 0x80;
  for (const key of [yPlusP, negativeZero]) {
    assert.equal(nodeAlone(key, message, forged), true, "Node's verify alone accepts the forgery");
    assert.equal(verifyEd25519Strict(key, message, forged), false);
  }
});

test("wrong lengths are refused without throwing", () => {
  const [, publicKey, message, sig] = RFC8032[0];
  assert.equal(verifyEd25519Strict(hex(publicKey).subarray(0, 31), hex(message), hex(sig)), false);
  assert.equal(verifyEd25519Strict(hex(publicKey), hex(message), hex(sig).subarray(0, 63)), false);
});
