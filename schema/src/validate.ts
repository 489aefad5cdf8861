// JSON Schema validators for every wire type, compiled from wire.schema.json with ajv (draft
// 2020-12) on first use and cached: one compiled function per component schema.

import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv";

import { OPERATIONS, SCHEMA_NAMES, type OperationId, type SchemaName, type SchemaType } from "./generated/contract.js";
import { WIRE_SCHEMA } from "./generated/wire-schema.js";

/** One reason a value does not match its schema. */
export interface ContractValidationIssue {
  /**
   * The offending field as a JSON Pointer into the value (`/items/0/direction`); for a missing
   * required property, the pointer of that property. `""` is the value itself.
   */
  field: string;
  /** What is wrong, e.g. `must be equal to one of the allowed values`. */
  message: string;
  /** The JSON Schema keyword that failed (`required`, `type`, `enum`, …). */
  keyword: string;
}

/** The verdict of a validator: the value, now typed, or every issue found. */
export type ValidationResult<T> = { valid: true; value: T } | { valid: false; errors: ContractValidationIssue[] };

/** Thrown by {@link assertSchema}; `errors` names each offending field. */
export class ContractValidationError extends Error {
  /** Every issue found. */
  readonly errors: ContractValidationIssue[];

  /**
   * @param schema - The component schema the value was checked against.
   * @param errors - The issues; the message lists them (field and reason only, never values).
   */
  constructor(schema: string, errors: ContractValidationIssue[]) {
    super(`${schema} is invalid: ${formatIssues(errors)}`);
    this.name = "ContractValidationError";
    this.errors = errors;
  }
}

/** `field message` pairs joined by `; ` (`(root)` for the value itself). */
export function formatIssues(errors: readonly ContractValidationIssue[]): string {
  return errors.map((e) => `${e.field === "" ? "(root)" : e.field} ${e.message}`).join("; ");
}

type Operations = typeof OPERATIONS;

/** Operations whose request body is JSON described by a component schema. */
export type OperationWithRequestBody = {
  [O in OperationId]: Operations[O]["requestBody"] extends SchemaName ? O : never;
}[OperationId];

/** The TypeScript type of operation `O`'s request body. */
export type RequestBodyOf<O extends OperationWithRequestBody> = SchemaType<Operations[O]["requestBody"] & SchemaName>;

/** The statuses (as strings, e.g. `"200"`) for which operation `O` declares a JSON response body. */
export type ResponseStatus<O extends OperationId> = Extract<keyof Operations[O]["responses"], string>;

/** A declared status as a number (`401`) from its string form (`"401"`). */
export type NumericStatus<S extends string> = S extends `${infer N extends number}` ? N : never;

/** A status of operation `O` with a JSON body, as a string (`"401"`) or a number (`401`). */
export type ResponseStatusCode<O extends OperationId> = ResponseStatus<O> | NumericStatus<ResponseStatus<O>>;

/** Operations that declare a JSON response body for at least one status. */
export type OperationWithResponseBody = { [O in OperationId]: ResponseStatus<O> extends never ? never : O }[OperationId];

/** `"200"` when operation `O` declares it, else any declared status. */
export type DefaultResponseStatus<O extends OperationId> = "200" extends ResponseStatus<O> ? "200" : ResponseStatus<O>;

/** The TypeScript type of operation `O`'s JSON response body for status `S`. */
export type ResponseBodyOf<O extends OperationId, S extends ResponseStatus<O> = DefaultResponseStatus<O>> = SchemaType<
  Operations[O]["responses"][S] & SchemaName
>;

const WIRE_BASE = "wire";
let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

function validatorFor(name: string): ValidateFunction {
  const cached = compiled.get(name);
  if (cached) return cached;
  if (!(SCHEMA_NAMES as readonly string[]).includes(name) || !(name in WIRE_SCHEMA.$defs)) {
    throw new TypeError(`no schema named ${JSON.stringify(name)} in the contract`);
  }
  // Formats are annotations here: the contract passes timestamps through as strings.
  // The bundle is registered under its own `$id`, or under "wire" if it has none.
  ajv ??= new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true, validateFormats: false }).addSchema(
    WIRE_SCHEMA,
    WIRE_SCHEMA.$id === undefined ? WIRE_BASE : undefined,
  );
  const validate = ajv.compile({ $ref: `${WIRE_SCHEMA.$id ?? WIRE_BASE}#/$defs/${name}` });
  compiled.set(name, validate);
  return validate;
}

const escapePointer = (segment: string): string => segment.replace(/~/g, "~0").replace(/\//g, "~1");

function issues(errors: readonly ErrorObject[] | null | undefined): ContractValidationIssue[] {
  return (errors ?? []).map((error) => {
    const missing = error.keyword === "required" ? (error.params as { missingProperty?: string }).missingProperty : undefined;
    return {
      field: missing === undefined ? error.instancePath : `${error.instancePath}/${escapePointer(missing)}`,
      message: error.message ?? `fails ${error.keyword}`,
      keyword: error.keyword,
    };
  });
}

/**
 * Validates `value` against the component schema `name` (a key of `$defs` in wire.schema.json).
 * Unknown keys are allowed at every level, as the contract requires of receivers.
 *
 * @throws TypeError if the contract has no schema of that name.
 */
export function validateSchema<N extends SchemaName>(name: N, value: unknown): ValidationResult<SchemaType<N>> {
  const validate = validatorFor(name);
  return validate(value) ? { valid: true, value: value as SchemaType<N> } : { valid: false, errors: issues(validate.errors) };
}

/** Whether `value` matches the component schema `name` (a type guard). */
export function isSchema<N extends SchemaName>(name: N, value: unknown): value is SchemaType<N> {
  return validatorFor(name)(value);
}

/**
 * Asserts that `value` matches the component schema `name`.
 *
 * @throws ContractValidationError naming each offending field.
 */
export function assertSchema<N extends SchemaName>(name: N, value: unknown): asserts value is SchemaType<N> {
  const result = validateSchema(name, value);
  if (!result.valid) throw new ContractValidationError(name, result.errors);
}

/**
 * Validates a parsed JSON request body of operation `operationId` (e.g. `install_heartbeat`)
 * against the schema the contract declares for it.
 */
export function validateRequestBody<O extends OperationWithRequestBody>(operationId: O, body: unknown): ValidationResult<RequestBodyOf<O>> {
  const schema: string | null = OPERATIONS[operationId]?.requestBody ?? null;
  if (schema === null) throw new TypeError(`operation ${JSON.stringify(operationId)} has no JSON request body`);
  return validateSchema(schema as SchemaName, body) as ValidationResult<RequestBodyOf<O>>;
}

/**
 * Validates a parsed JSON response body of operation `operationId` for `status` (default `"200"`;
 * a number or its string form; only statuses the contract declares a JSON body for type-check)
 * against the schema the contract declares for it.
 *
 * @throws TypeError if the contract declares no JSON body for that operation and status.
 */
export function validateResponseBody<O extends OperationWithResponseBody, S extends ResponseStatusCode<O> = DefaultResponseStatus<O>>(
  operationId: O,
  body: unknown,
  status?: S,
): ValidationResult<ResponseBodyOf<O, `${S}` & ResponseStatus<O>>> {
  const responses: Readonly<Record<string, string>> = OPERATIONS[operationId]?.responses ?? {};
  const key = String(status ?? "200");
  const schema = responses[key];
  if (schema === undefined) throw new TypeError(`operation ${JSON.stringify(operationId)} declares no JSON body for status ${key}`);
  return validateSchema(schema as SchemaName, body) as ValidationResult<ResponseBodyOf<O, `${S}` & ResponseStatus<O>>>;
}
