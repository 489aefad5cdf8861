// Parity check (d): verifies, as the platform would and with only Node's built-in crypto, the
// release certificates and request signatures produced by the Rust crate, and recomputes its
// pairing transcripts, proofs and confirms and its signed envelopes. The signed-string layouts are
// implemented here independently from CONTRACT.md §5.3 and §8.5–8.6, never shared with Rust.
//
// Usage: node verify.mjs vectors.json   (vectors from `cargo run --example parity_vectors`)
import { readFileSync } from "node:fs";
import { createHash, createHmac, createPublicKey, verify } from "node:crypto";

const vectors = JSON.parse(readFileSync(process.argv[2], "utf8"));
let passed = 0;
let failed = 0;
function check(name, ok) {
  if (ok) passed++;
  else {
    failed++;
    console.error(`FAIL ${name}`);
  }
}

// Ed25519 public key (32 raw bytes) as a KeyObject: SPKI DER = fixed prefix || key.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
function ed25519Key(raw) {
  if (raw.length !== 32) throw new Error(`ed25519 key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}
const hexKey = (hex) => ed25519Key(Buffer.from(hex, "hex"));
const ed25519Verify = (key, message, sigHex) =>
  verify(null, Buffer.from(message), key, Buffer.from(sigHex, "hex"));
const sha256Hex = (bytes) => createHash("sha256").update(bytes).digest("hex");

// §5.3 layouts, joined by "\n", no trailing newline.
const certPayload = (version, publicKeyHex) => ["WKCERT2", version, publicKeyHex].join("\n");
const requestString = (ts, nonce, method, path, body) =>
  ["WKSIG2", String(ts), nonce, method.toUpperCase(), path, sha256Hex(body)].join("\n");

const release = vectors.release;
const master = hexKey(release.masterPublicKey);
for (const c of release.certificates) {
  check(`certificate ${c.version}`, ed25519Verify(master, certPayload(c.version, c.publicKey), c.certificate));
  check(`certificate ${c.version} bound to its version`, !ed25519Verify(master, certPayload(c.version + ".1", c.publicKey), c.certificate));
}
for (const [i, r] of release.requests.entries()) {
  const body = Buffer.from(r.body, "base64");
  const key = hexKey(r.publicKey);
  check(`request ${i} signature`, ed25519Verify(key, requestString(r.timestamp, r.nonce, r.method, r.path, body), r.signature));
  check(`request ${i} tampered body refused`, !ed25519Verify(key, requestString(r.timestamp, r.nonce, r.method, r.path, Buffer.concat([body, Buffer.from(" ")])), r.signature));
  check(`request ${i} nonce is 16 bytes of lower-case hex`, /^[0-9a-f]{32}$/.test(r.nonce));
}

// A heartbeat captured off the wire: the platform rebuilds everything from headers and bytes.
{
  const c = release.captured;
  const h = c.headers;
  const body = Buffer.from(c.body, "base64");
  const [method, target] = c.requestLine.split(" ");
  check("captured: no Authorization header", h["authorization"] === undefined);
  check("captured: scheme version 2", h["x-wk-sig-ver"] === "2");
  check("captured: JSON content type", h["content-type"] === "application/json");
  check("captured: certificate over the claimed build version", ed25519Verify(master, certPayload(h["x-wk-build-version"], h["x-wk-pub"]), h["x-wk-cert"]));
  check("captured: the wire path carries the base URL prefix", target === "/prefix" + c.apiPath);
  check("captured: signature over the exact body and the API path", ed25519Verify(hexKey(h["x-wk-pub"]), requestString(h["x-wk-sig-ts"], h["x-wk-sig-nonce"], method, c.apiPath, body), h["x-wk-sig"]));
  check("captured: body is the heartbeat JSON", JSON.parse(body.toString("utf8")).installId === "parity");
}

// §8.6 pairing transcript: u32le length prefixes, proto as a bare u32le.
function u32le(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
const lp = (bytes) => Buffer.concat([u32le(bytes.length), bytes]);
function transcript(role, p) {
  return Buffer.concat([
    lp(Buffer.from("mur-pair-v2")),
    lp(Buffer.from(role === "proof" ? "mur-pair-v2/phone->daemon" : "mur-pair-v2/daemon->phone")),
    u32le(p.proto),
    lp(Buffer.from(p.agent)),
    lp(Buffer.from(p.wid)),
    lp(Buffer.from(p.did)),
    lp(Buffer.from(p.pubkey)),
    lp(Buffer.from(p.nonce, "hex")),
  ]);
}
const hmac = (token, bytes) => createHmac("sha256", Buffer.from(token, "utf8")).update(bytes).digest("hex");
for (const p of vectors.pairings) {
  check(`pairing ${p.agent}: transcript`, transcript("proof", p).toString("hex") === p.transcript);
  check(`pairing ${p.agent}: proof`, hmac(p.token, transcript("proof", p)) === p.proof);
  check(`pairing ${p.agent}: confirm`, hmac(p.token, transcript("confirm", p)) === p.confirm);
}

// §8.5 multibase (base58btc, 'z') keys and envelope signing bytes.
const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function base58Decode(text) {
  let n = 0n;
  for (const ch of text) {
    const v = B58.indexOf(ch);
    if (v < 0) throw new Error(`bad base58 character ${ch}`);
    n = n * 58n + BigInt(v);
  }
  const bytes = [];
  while (n > 0n) {
    bytes.unshift(Number(n % 256n));
    n /= 256n;
  }
  for (const ch of text) {
    if (ch !== "1") break;
    bytes.unshift(0);
  }
  return Buffer.from(bytes);
}
function multibaseKey(text) {
  if (!text.startsWith("z")) throw new Error("multibase key must be base58btc ('z')");
  return ed25519Key(base58Decode(text.slice(1)));
}
for (const [i, e] of vectors.envelopes.entries()) {
  const payload = Buffer.from(e.payload, "base64");
  const signed = Buffer.concat([Buffer.from("mur-bridge-envelope-v1"), u32le(e.keyVersion), payload]);
  const key = multibaseKey(e.publicKey);
  check(`envelope ${i}`, ed25519Verify(key, signed, e.sig));
  const flipped = Buffer.concat([Buffer.from("mur-bridge-envelope-v1"), u32le(e.keyVersion + 1), payload]);
  check(`envelope ${i} key version is covered`, !ed25519Verify(key, flipped, e.sig));
}

console.log(`(d) node verifier: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
