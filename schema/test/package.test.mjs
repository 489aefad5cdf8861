// The package itself: version equal to the crate's, exports that resolve to built files, and no
// runtime dependency beyond ajv and Node built-ins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

test("the package version equals the crate's Cargo.toml version", () => {
  const cargo = readFileSync(new URL("../Cargo.toml", root), "utf8");
  const packageTable = cargo.split(/^\[/m).find((table) => table.startsWith("package]"));
  const crateVersion = /^version\s*=\s*"([^"]+)"/m.exec(packageTable ?? "")?.[1];
  assert.ok(crateVersion);
  assert.equal(pkg.version, crateVersion);
  const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8"));
  assert.equal(lock.version, crateVersion);
});

test("the package is public, scoped, ESM, and every export target exists and is shipped", () => {
  assert.equal(pkg.name, "@wavekat/platform-contract");
  assert.notEqual(pkg.private, true);
  assert.equal(pkg.type, "module");
  const targets = [pkg.main, pkg.types];
  for (const entry of Object.values(pkg.exports)) targets.push(...(typeof entry === "string" ? [entry] : Object.values(entry)));
  for (const target of targets) {
    assert.ok(existsSync(new URL(target, root)), `${target} exists`);
    if (target === "./package.json") continue; // npm always ships it
    const shipped = pkg.files.some((f) => target.replace(/^\.\//, "").startsWith(f.replace(/\/$/, "")));
    assert.ok(shipped, `${target} is in "files"`);
  }
  assert.equal(pkg.exports["."].types, "./dist/index.d.ts");
});

test("the only runtime dependency is ajv, and the built code imports nothing else outside node:", () => {
  assert.deepEqual(Object.keys(pkg.dependencies), ["ajv"]);
  const dist = new URL("dist/", root);
  const files = readdirSync(dist, { recursive: true }).filter((f) => f.endsWith(".js"));
  assert.ok(files.length > 5);
  for (const file of files) {
    const text = readFileSync(new URL(file, dist), "utf8");
    for (const [, specifier] of text.matchAll(/(?:import|export)[^"']*?from\s+["']([^"']+)["']/g)) {
      assert.ok(specifier.startsWith(".") || specifier.startsWith("node:") || specifier.startsWith("ajv/"), `${file} imports ${specifier}`);
    }
  }
});

test("devDependencies are pinned exactly", () => {
  for (const [name, version] of Object.entries(pkg.devDependencies)) assert.match(version, /^\d+\.\d+\.\d+$/, name);
});
