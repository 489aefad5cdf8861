// The bounded in-memory replay memory.
import { test } from "node:test";
import assert from "node:assert/strict";

import { InMemoryReplayMemory, ReplayMemoryFullError } from "../dist/index.js";

test("a nonce is new once, then seen; another key or nonce is new", () => {
  const memory = new InMemoryReplayMemory({ now: () => 0 });
  assert.equal(memory.checkAndRemember("k", "n", 1000), true);
  assert.equal(memory.checkAndRemember("k", "n", 1000), false);
  assert.equal(memory.checkAndRemember("k2", "n", 1000), true);
  assert.equal(memory.checkAndRemember("k", "n2", 1000), true);
  assert.equal(memory.size, 3);
});

test("an entry is kept through its expiry instant and forgotten after it", () => {
  let now = 0;
  const memory = new InMemoryReplayMemory({ now: () => now });
  memory.checkAndRemember("k", "n", 1000);
  now = 1000;
  assert.equal(memory.checkAndRemember("k", "n", 2000), false);
  now = 1001;
  assert.equal(memory.size, 0);
  assert.equal(memory.checkAndRemember("k", "n", 2000), true);
});

test("at capacity it refuses new nonces instead of forgetting live ones; expired ones free room", () => {
  let now = 0;
  const memory = new InMemoryReplayMemory({ capacity: 2, now: () => now });
  memory.checkAndRemember("k", "a", 10);
  memory.checkAndRemember("k", "b", 20);
  assert.throws(() => memory.checkAndRemember("k", "c", 30), ReplayMemoryFullError);
  assert.equal(memory.checkAndRemember("k", "a", 10), false, "a live nonce is still remembered");
  now = 11;
  assert.equal(memory.checkAndRemember("k", "c", 30), true);
});

test("entries expire in expiry order whatever the insertion order", () => {
  let now = 0;
  const memory = new InMemoryReplayMemory({ now: () => now });
  const expiries = [50, 10, 40, 20, 30, 60, 5];
  expiries.forEach((expiry, i) => memory.checkAndRemember("k", `n${i}`, expiry));
  for (const [at, left] of [[6, 6], [11, 5], [21, 4], [31, 3], [41, 2], [51, 1], [61, 0]]) {
    now = at;
    assert.equal(memory.size, left, `at ${at}`);
  }
  now = 0;
});

test("a full memory whose entries expire one by one stays fast (no full scan per check)", () => {
  let now = 0;
  const memory = new InMemoryReplayMemory({ now: () => now });
  for (let i = 0; i < 100_000; i++) memory.checkAndRemember("k", `old ${i}`, i);
  assert.throws(() => memory.checkAndRemember("k", "one more", 1e12), ReplayMemoryFullError);
  const started = performance.now();
  for (let i = 0; i < 10_000; i++) {
    now = i + 1; // entry i expires, making room for exactly one more
    assert.equal(memory.checkAndRemember("k", `new ${i}`, 1e12), true);
  }
  assert.ok(performance.now() - started < 2000, "10 000 checks take under 2 s");
  assert.equal(memory.size, 100_000);
});
