// The published .d.ts files: correct use type-checks under tsc --strict and misuse is refused
// (test/types/usage.ts holds both, the misuses marked @ts-expect-error).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

test("the declarations accept correct use and refuse misuse under tsc --strict", () => {
  const tsc = fileURLToPath(new URL("../node_modules/.bin/tsc", import.meta.url));
  const file = fileURLToPath(new URL("types/usage.ts", import.meta.url));
  const args = ["--noEmit", "--strict", "--exactOptionalPropertyTypes", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node", file];
  try {
    execFileSync(tsc, args, { encoding: "utf8", cwd: fileURLToPath(new URL("..", import.meta.url)) });
  } catch (error) {
    assert.fail(`tsc refused test/types/usage.ts:\n${error.stdout}`);
  }
});
