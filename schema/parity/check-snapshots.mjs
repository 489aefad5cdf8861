// Parity check (c): every wire snapshot in ../snapshots type-checks against its generated
// TypeScript type (tsc --strict, excess properties refused) and validates against
// wire.schema.json (ajv, JSON Schema 2020-12). Snapshot files are named `<Schema>.<variant>.snap`;
// a `.all` variant holds an array of every value of an enum.
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import Ajv2020 from "ajv/dist/2020.js";

const here = dirname(fileURLToPath(import.meta.url));
const schemaDir = join(here, "..");
const snapshotDir = join(schemaDir, "..", "snapshots");
const wireSchema = JSON.parse(readFileSync(join(schemaDir, "wire.schema.json"), "utf8"));

/** The JSON body of an insta snapshot (after its `---` header). */
function snapshotBody(text) {
  const parts = text.split(/^---$/m);
  if (parts.length < 3) throw new Error("not an insta snapshot");
  return JSON.parse(parts.slice(2).join("---"));
}

// Mobile frame snapshots (snapshots/mobile/) are named `client.<type>…`, `server.<type>…` and
// `envelope`; they hold the exact compact wire string.
const MOBILE = { client: "ClientFrame", server: "ServerFrame", envelope: "SignedEnvelope" };
const read = (dir, file) => snapshotBody(readFileSync(join(dir, file), "utf8"));
const snapshots = [
  ...readdirSync(snapshotDir)
    .filter((f) => f.endsWith(".snap"))
    .map((file) => {
      const [schema, variant] = file.replace(/\.snap$/, "").split(".");
      return { file, schema, variant, value: read(snapshotDir, file) };
    }),
  ...readdirSync(join(snapshotDir, "mobile"))
    .filter((f) => f.endsWith(".snap"))
    .map((file) => {
      const schema = MOBILE[file.split(".")[0]];
      if (!schema) throw new Error(`mobile snapshot ${file} has no schema mapping`);
      return { file: `mobile/${file}`, schema, variant: "frame", value: read(join(snapshotDir, "mobile"), file) };
    }),
].sort((a, b) => a.file.localeCompare(b.file));
if (snapshots.length === 0) throw new Error(`no snapshots in ${snapshotDir}`);

// (c) ajv against wire.schema.json
const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
ajv.addSchema(wireSchema, "wire");
let failures = 0;
for (const s of snapshots) {
  if (!wireSchema.$defs[s.schema]) {
    console.error(`(c) ${s.file}: no $defs/${s.schema} in wire.schema.json`);
    failures++;
    continue;
  }
  const ref = { $ref: `wire#/$defs/${s.schema}` };
  const validate = ajv.compile(s.variant === "all" ? { type: "array", items: ref } : ref);
  if (!validate(s.value)) {
    console.error(`(c) ${s.file}: ${ajv.errorsText(validate.errors)}`);
    failures++;
  }
}
console.log(`(c) ajv: ${snapshots.length - failures}/${snapshots.length} snapshots valid against wire.schema.json`);

// (c) tsc: one typed constant per snapshot
const work = mkdtempSync(join(tmpdir(), "wk-parity-"));
const lines = [`import type { components } from ${JSON.stringify(join(schemaDir, "wire"))};`, `type S = components["schemas"];`];
snapshots.forEach((s, i) => {
  const type = s.variant === "all" ? `S[${JSON.stringify(s.schema)}][]` : `S[${JSON.stringify(s.schema)}]`;
  lines.push(`// ${s.file}`, `export const snapshot${i}: ${type} = ${JSON.stringify(s.value, null, 2)};`);
});
const file = join(work, "snapshots.ts");
writeFileSync(file, lines.join("\n") + "\n");
try {
  execFileSync(
    join(schemaDir, "node_modules", ".bin", "tsc"),
    ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--skipLibCheck", file],
    { stdio: "inherit" },
  );
  console.log(`(c) tsc: ${snapshots.length} snapshots type-check against wire.d.ts`);
} catch {
  console.error(`(c) tsc: snapshots do not type-check against wire.d.ts (see ${file})`);
  failures++;
}
// Keep the generated file only when it failed, for the message above.
if (failures === 0) rmSync(work, { recursive: true, force: true });
process.exit(failures === 0 ? 0 : 1);
