/**
 * `@wavekat/platform-contract`: the WaveKat platform wire contract for TypeScript.
 *
 * - Types for every wire type (generated from openapi.json): `InstallHeartbeatRequest`,
 *   `VoiceCallRecord`, …, plus `components`, `paths` and `operations` from `./wire`.
 * - Validators compiled from wire.schema.json: {@link validateRequestBody},
 *   {@link validateResponseBody}, {@link validateSchema}.
 * - Release signing, scheme 2: {@link ReleaseVerifier} (strict Ed25519, freshness window, replay
 *   memory), {@link verifyCertificate}, {@link verifyRequestSignature}.
 * - MUR mobile pairing: {@link pairProof}, {@link verifyPairConfirm}, {@link signEnvelope}, …
 *
 * @packageDocumentation
 */

export type { components, operations, paths } from "../wire.js";
export * from "./generated/contract.js";
export { WIRE_SCHEMA } from "./generated/wire-schema.js";
export {
  assertSchema,
  ContractValidationError,
  formatIssues,
  isSchema,
  validateRequestBody,
  validateResponseBody,
  validateSchema,
  type ContractValidationIssue,
  type DefaultResponseStatus,
  type NumericStatus,
  type OperationWithRequestBody,
  type OperationWithResponseBody,
  type RequestBodyOf,
  type ResponseBodyOf,
  type ResponseStatus,
  type ResponseStatusCode,
  type ValidationResult,
} from "./validate.js";
export { ed25519PublicKey, signEd25519, verifyEd25519Strict, type Ed25519PrivateKey } from "./ed25519.js";
export {
  certificatePayload,
  DEFAULT_MAX_AGE_SECONDS,
  DEFAULT_MAX_FUTURE_SKEW_SECONDS,
  issueReleaseCredential,
  RELEASE_HEADERS,
  ReleaseVerifier,
  requestPayload,
  SIG_SCHEME_VERSION,
  signReleaseRequest,
  verifyCertificate,
  verifyRequestSignature,
  type BodyBytes,
  type HeaderSource,
  type ReceivedRequest,
  type ReleaseCredential,
  type ReleaseRejection,
  type ReleaseRejectionCode,
  type ReleaseRequestToSign,
  type ReleaseVerification,
  type ReleaseVerifierOptions,
  type RequestSignatureInput,
  type SignedReleaseRequest,
  type VerifiedRelease,
} from "./release.js";
export { InMemoryReplayMemory, ReplayMemoryFullError, type InMemoryReplayMemoryOptions, type ReplayMemory } from "./replay.js";
export {
  decodePublicKeyMultibase,
  encodePublicKeyMultibase,
  ENVELOPE_DOMAIN,
  envelopeSigningBytes,
  PAIR_DOMAIN,
  PAIR_PROTO,
  pairConfirm,
  pairProof,
  pairTranscript,
  resumeProofEnvelope,
  signEnvelope,
  transcriptFieldsFromFrames,
  verifyEnvelope,
  verifyPairConfirm,
  verifyPairProof,
  type PairRole,
  type TranscriptFields,
  type VerifyEnvelopeOptions,
} from "./pairing.js";
