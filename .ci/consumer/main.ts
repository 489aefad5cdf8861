// Runs the handler on a heartbeat the Rust client signed and sent (captured by
// `cargo run --example parity_vectors`), then on a replay and a tampered copy, and checks the
// answers (also against the contract's response schema). Exits non-zero on any surprise.
//
// Usage: node out/main.js VECTORS.json
import { readFileSync } from "node:fs";
import { validateResponseBody, CONTRACT_VERSION, SCHEMA_NAMES } from "@wavekat/platform-contract";
import wireSchema from "@wavekat/platform-contract/wire.schema.json" with { type: "json" };
import pkg from "@wavekat/platform-contract/package.json" with { type: "json" };

import { heartbeatHandler, type Incoming, type InstallStore } from "./handler.js";

interface Captured {
  requestLine: string;
  headers: Record<string, string>;
  body: string;
  apiPath: string;
}
const path = process.argv[2];
if (!path) throw new Error("usage: node out/main.js VECTORS.json");
const vectors = JSON.parse(readFileSync(path, "utf8")) as { release: { masterPublicKey: string; captured: Captured } };
const captured = vectors.release.captured;
const [method = ""] = captured.requestLine.split(" ");
const request: Incoming = { method, path: captured.apiPath, headers: captured.headers, body: Buffer.from(captured.body, "base64") };

const failures: string[] = [];
const expect = (what: string, ok: boolean) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const store: InstallStore = new Map();
const handle = heartbeatHandler(vectors.release.masterPublicKey, store);

const first = await handle(request);
expect("the Rust-signed heartbeat is accepted (200)", first.status === 200);
expect("the answer matches the contract's response schema", validateResponseBody("install_heartbeat", first.body).valid);
expect("the install row is stored under its installId", store.get("parity")?.appVersion === "1.0.0");

const replay = await handle(request);
expect("the same heartbeat again is refused as a replay (401 replayed)", replay.status === 401 && replay.body.error === "replayed" && validateResponseBody("install_heartbeat", replay.body, 401).valid);

const tampered = Buffer.from(request.body);
const at = tampered.length - 2;
tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
const changed = await handle({ ...request, body: tampered });
expect("a heartbeat changed after signing is refused (401 bad_signature)", changed.status === 401 && changed.body.error === "bad_signature");

const foreign = heartbeatHandler("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", new Map());
const untrusted = await foreign(request);
expect("under another master key it is refused (401 bad_certificate)", untrusted.status === 401 && untrusted.body.error === "bad_certificate");

expect("the JSON Schema and package.json subpaths resolve", "$defs" in wireSchema && SCHEMA_NAMES.every((n) => n in wireSchema.$defs) && typeof pkg.version === "string");
console.log(`@wavekat/platform-contract ${pkg.version} (contract ${CONTRACT_VERSION})`);
process.exit(failures.length === 0 ? 0 : 1);
