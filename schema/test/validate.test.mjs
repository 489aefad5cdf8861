// Validators: every wire snapshot the Rust crate pins validates against its schema through the
// package; bodies that break the contract are refused with errors naming the field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

import {
  assertSchema,
  ContractValidationError,
  isSchema,
  OPERATIONS,
  SCHEMA_NAMES,
  validateRequestBody,
  validateResponseBody,
  validateSchema,
  WIRE_SCHEMA,
} from "../dist/index.js";

const snapshotDir = new URL("../../snapshots/", import.meta.url);
const snapshotBody = (text) => JSON.parse(text.split(/^---$/m).slice(2).join("---"));

test("every wire snapshot validates against its schema through validateSchema", () => {
  const files = readdirSync(snapshotDir).filter((f) => f.endsWith(".snap"));
  assert.ok(files.length > 40);
  for (const file of files) {
    const [schema, variant] = file.replace(/\.snap$/, "").split(".");
    const value = snapshotBody(readFileSync(new URL(file, snapshotDir), "utf8"));
    for (const item of variant === "all" ? value : [value]) {
      const result = validateSchema(schema, item);
      assert.equal(result.valid, true, `${file}: ${JSON.stringify(result.errors)}`);
    }
  }
});

test("a heartbeat without installId is refused, naming /installId", () => {
  const result = validateRequestBody("install_heartbeat", { appVersion: "1.0.0", os: "linux" });
  assert.equal(result.valid, false);
  assert.deepEqual(result.errors, [{ field: "/installId", message: "must have required property 'installId'", keyword: "required" }]);
});

test("a sync batch with an unknown enum string is refused, naming the nested field", () => {
  const call = { sourceId: "c1", accountId: "a1", direction: "sideways", party: "+1", ringAt: "2026-05-16T10:00:00Z", endAt: "2026-05-16T10:01:00Z", disposition: "missed", endReason: "missed" };
  const result = validateRequestBody("sync_voice_calls", { items: [call] });
  assert.equal(result.valid, false);
  assert.deepEqual(result.errors.map((e) => [e.field, e.keyword]), [["/items/0/direction", "enum"]]);
  assert.equal(validateRequestBody("sync_voice_calls", { items: [{ ...call, direction: "inbound" }] }).valid, true);
});

test("unknown keys are accepted at every level, as receivers must", () => {
  const body = { installId: "i", appVersion: "1", os: "linux", shinyNewField: { nested: true } };
  assert.equal(validateRequestBody("install_heartbeat", body).valid, true);
});

test("response bodies: null and absent optional echoes are accepted; error statuses use ErrorBody", () => {
  const row = { id: "1", installId: "i", appVersion: "1", os: "linux", osVersion: null, firstSeenAt: "t", lastSeenAt: "t" };
  assert.equal(validateResponseBody("install_heartbeat", row).valid, true);
  assert.equal(validateResponseBody("install_heartbeat", row, 200).valid, true);
  assert.equal(validateResponseBody("install_heartbeat", { ...row, id: 7 }).valid, false);
  assert.equal(validateResponseBody("install_heartbeat", { error: "bad_signature" }, 401).valid, true);
  assert.throws(() => validateResponseBody("install_heartbeat", {}, 204), /no JSON body for status 204/);
});

test("operations without a JSON request body, and unknown schema names, are programming errors", () => {
  assert.throws(() => validateRequestBody("get_me", {}), TypeError);
  assert.throws(() => validateSchema("NoSuchType", {}), TypeError);
});

test("assertSchema throws a ContractValidationError listing fields, without echoing values", () => {
  const secret = "wk_do-not-echo-this";
  try {
    assertSchema("CliCodeExchangeResponse", { token: 42, login: secret });
    assert.fail("expected a throw");
  } catch (error) {
    assert.ok(error instanceof ContractValidationError);
    assert.ok(error.errors.some((e) => e.field === "/token"));
    assert.ok(!error.message.includes(secret));
    assert.match(error.message, /^CliCodeExchangeResponse is invalid: /);
  }
  assert.equal(isSchema("Me", { id: "u1", login: "e", role: "user" }), true);
  assert.equal(isSchema("Me", { id: 1, login: "e", role: "user" }), false);
});

test("the generated tables cover the spec: every component schema and every operation", () => {
  const spec = JSON.parse(readFileSync(new URL("../openapi.json", import.meta.url), "utf8"));
  assert.deepEqual([...SCHEMA_NAMES], Object.keys(spec.components.schemas));
  assert.deepEqual(Object.keys(WIRE_SCHEMA.$defs).sort(), Object.keys(spec.components.schemas).sort());
  const ops = Object.entries(spec.paths).flatMap(([path, item]) => Object.entries(item).filter(([, op]) => op.operationId).map(([m, op]) => [op.operationId, m.toUpperCase(), path]));
  assert.deepEqual(ops.map(([id]) => id).sort(), Object.keys(OPERATIONS).sort());
  for (const [id, method, path] of ops) assert.deepEqual([OPERATIONS[id].method, OPERATIONS[id].path], [method, path]);
  assert.equal(OPERATIONS.install_heartbeat.releaseSigned, true);
  assert.equal(OPERATIONS.install_heartbeat.auth, "none");
  assert.equal(OPERATIONS.sync_voice_calls.auth, "bearer");
});
