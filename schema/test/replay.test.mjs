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
