// Serves the handler on node:http and sends it, over a real socket, the heartbeat the Rust client
// signed (captured by `cargo run --example parity_vectors`); then a replay and a tampered copy.
// Checks the answers, also against the contract's response schema. Exits non-zero on any surprise.
//
// Usage: node out/main.js VECTORS.json
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { validateResponseBody, CONTRACT_VERSION, SCHEMA_NAMES, type ErrorBody } from "@wavekat/platform-contract";
import wireSchema from "@wavekat/platform-contract/wire.schema.json" with { type: "json" };
import pkg from "@wavekat/platform-contract/package.json" with { type: "json" };

import { heartbeatHandler, nodeListener, type InstallStore } from "./handler.js";

interface Captured {
  requestLine: string;
  headers: Record<string, string>;
  body: string;
  apiPath: string;
}
const file = process.argv[2];
if (!file) throw new Error("usage: node out/main.js VECTORS.json");
const vectors = JSON.parse(readFileSync(file, "utf8")) as { release: { masterPublicKey: string; captured: Captured } };
const captured = vectors.release.captured;
const body = Buffer.from(captured.body, "base64");
// What a client sends: the release headers and the content type (fetch sets host and length).
const headers = Object.fromEntries(Object.entries(captured.headers).filter(([name]) => name.startsWith("x-wk-") || name === "content-type"));

const failures: string[] = [];
const expect = (what: string, ok: boolean) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const store: InstallStore = new Map();
const server = createServer(nodeListener(heartbeatHandler(vectors.release.masterPublicKey, store)));
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${captured.apiPath}`;
const post = async (payload: Uint8Array) => {
  const response = await fetch(url, { method: "POST", headers, body: new Uint8Array(payload) });
  return { status: response.status, body: (await response.json()) as unknown };
};

try {
  const first = await post(body);
  expect("the Rust-signed heartbeat is accepted (200)", first.status === 200);
  expect("the answer matches the contract's response schema", validateResponseBody("install_heartbeat", first.body).valid);
  expect("the install row is stored under its installId", store.get("parity")?.appVersion === "1.0.0");

  const replay = await post(body);
  const replayError = validateResponseBody("install_heartbeat", replay.body, 401);
  expect("the same heartbeat again is refused as a replay (401 replayed)", replay.status === 401 && replayError.valid && replayError.value.error === "replayed");

  const tampered = Buffer.from(body);
  const at = tampered.length - 2;
  tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
  const changed = await post(tampered);
  expect("a heartbeat changed after signing is refused (401 bad_signature)", changed.status === 401 && (changed.body as ErrorBody).error === "bad_signature");
} finally {
  server.close();
}

const foreign = heartbeatHandler("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", new Map());
const untrusted = await foreign({ method: "POST", path: captured.apiPath, headers: captured.headers, body });
expect("under another master key it is refused (bad_certificate)", untrusted.status === 401 && untrusted.body.error === "bad_certificate");

expect("the JSON Schema and package.json subpaths resolve", SCHEMA_NAMES.every((n) => n in wireSchema.$defs) && typeof pkg.version === "string");
console.log(`@wavekat/platform-contract ${pkg.version} (contract ${CONTRACT_VERSION})`);
process.exit(failures.length === 0 ? 0 : 1);
