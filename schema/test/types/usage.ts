// Type-level checks of the published declarations (compiled by test/types.test.mjs with
// tsc --strict --noEmit against dist/): correct use type-checks and each `@ts-expect-error` marks
// a misuse the types must refuse (tsc fails if that line compiles).
import {
  ReleaseVerifier,
  validateRequestBody,
  validateResponseBody,
  validateSchema,
  signEnvelope,
  type InstallHeartbeatRequest,
  type RequestBodyOf,
  type SchemaType,
  type VoiceCallRecord,
} from "../../dist/index.js";
import type { components } from "../../wire.js";

const heartbeat = validateRequestBody("install_heartbeat", {});
if (heartbeat.valid) {
  const ping: InstallHeartbeatRequest = heartbeat.value;
  const id: string = ping.installId;
  void id;
}
const calls = validateRequestBody("sync_voice_calls", {});
if (calls.valid) {
  const items: VoiceCallRecord[] = calls.value.items;
  void items;
}
// @ts-expect-error get_me has no request body
validateRequestBody("get_me", {});

const ok = validateResponseBody("install_heartbeat", {});
if (ok.valid) void (ok.value.firstSeenAt satisfies string);
const refused = validateResponseBody("install_heartbeat", {}, 401);
if (refused.valid) void (refused.value.error satisfies string);
// @ts-expect-error the contract declares no JSON body for 204
validateResponseBody("install_heartbeat", {}, 204);

// @ts-expect-error not a schema of the contract
validateSchema("NoSuchType", {});
const same: SchemaType<"VoiceCallRecord"> = {} as components["schemas"]["VoiceCallRecord"];
const body: RequestBodyOf<"sync_voice_calls"> = { items: [same] };
void body;

const verifier = new ReleaseVerifier({ masterPublicKey: "00", maxAgeSeconds: 60 });
void verifier.verify({ method: "POST", path: "/", headers: { "x-wk-sig": ["a", "b"] }, body: new ArrayBuffer(0) }).then((v) => {
  if (v.ok) void (v.release.buildVersion satisfies string);
  else void (v.rejection.code satisfies "missing_header" | "malformed_header" | "unsupported_scheme" | "stale" | "bad_certificate" | "bad_signature" | "replayed" | "nonce_memory_full");
});
// @ts-expect-error masterPublicKey is required
new ReleaseVerifier({});

const envelope = signEnvelope("{}", new Uint8Array(32), 1);
void (envelope.sig satisfies number[]);
