// Nonce memory for the release verifier: an interface the platform backs with its own store, and
// a bounded in-memory default.

/**
 * Remembers accepted request nonces so a replayed request is refused.
 *
 * The verifier calls {@link ReplayMemory.checkAndRemember} once per request, after every other
 * check has passed. A store shared by several server instances (Redis `SET NX PX`, a KV namespace,
 * a SQL unique key) must make the check and the insert one atomic step.
 */
export interface ReplayMemory {
  /**
   * Records `nonce` under `key` unless it is already recorded.
   *
   * @param key - The scope of the nonce: the signer's per-version public key, lower-case hex.
   * @param nonce - The request nonce, 32 lower-case hex characters.
   * @param expiresAtMs - Unix time in milliseconds after which the entry may be forgotten: the
   *   request's timestamp has then left the freshness window, so a replay is refused as stale.
   * @returns `true` if the nonce was new and is now remembered; `false` if it was seen before (a
   *   replay). Throw {@link ReplayMemoryFullError} to refuse a request because the store is full;
   *   any other exception propagates out of `verify`.
   */
  checkAndRemember(key: string, nonce: string, expiresAtMs: number): boolean | Promise<boolean>;
}

/** Thrown by a {@link ReplayMemory} that cannot remember another nonce right now. */
export class ReplayMemoryFullError extends Error {
  /** @param message - What is full (never a nonce or key). */
  constructor(message = "the nonce memory is full") {
    super(message);
    this.name = "ReplayMemoryFullError";
  }
}

/** Options of {@link InMemoryReplayMemory}. */
export interface InMemoryReplayMemoryOptions {
  /** The most nonces held at once (default 100 000, as the Rust verifier). */
  capacity?: number;
  /** The clock, unix milliseconds (default `Date.now`). */
  now?: () => number;
}

/**
 * A bounded, process-local {@link ReplayMemory}. Entries are dropped once expired; when
 * `capacity` unexpired nonces are held it refuses new ones (throws {@link ReplayMemoryFullError})
 * rather than forgetting any early, so a replay can never slip through by eviction.
 * Suitable for one server process; use a shared store when several instances verify.
 */
export class InMemoryReplayMemory implements ReplayMemory {
  readonly #capacity: number;
  readonly #now: () => number;
  /** `key \n nonce` of every remembered nonce. */
  readonly #entries = new Set<string>();
  /** The same entries as a binary min-heap on expiry, so expiring costs O(log n) per entry. */
  readonly #byExpiry: { expiresAtMs: number; id: string }[] = [];

  /** @param options - Capacity and clock. */
  constructor(options: InMemoryReplayMemoryOptions = {}) {
    const capacity = options.capacity ?? 100_000;
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError("capacity must be a non-negative integer");
    this.#capacity = capacity;
    this.#now = options.now ?? Date.now;
  }

  /** How many unexpired nonces are held. */
  get size(): number {
    this.#expire(this.#now());
    return this.#entries.size;
  }

  /** {@inheritDoc ReplayMemory.checkAndRemember} */
  checkAndRemember(key: string, nonce: string, expiresAtMs: number): boolean {
    this.#expire(this.#now());
    const id = `${key}\n${nonce}`;
    if (this.#entries.has(id)) return false;
    if (this.#entries.size >= this.#capacity) throw new ReplayMemoryFullError();
    this.#entries.add(id);
    this.#push({ expiresAtMs, id });
    return true;
  }

  /** Forgets every entry whose expiry is before `now`. */
  #expire(now: number): void {
    const heap = this.#byExpiry;
    while (heap.length > 0 && (heap[0] as { expiresAtMs: number }).expiresAtMs < now) {
      const top = heap[0] as { id: string };
      const last = heap.pop() as { expiresAtMs: number; id: string };
      if (heap.length > 0) {
        heap[0] = last;
        this.#siftDown(0);
      }
      this.#entries.delete(top.id);
    }
  }

  #push(entry: { expiresAtMs: number; id: string }): void {
    const heap = this.#byExpiry;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as typeof entry).expiresAtMs <= entry.expiresAtMs) break;
      heap[i] = heap[parent] as typeof entry;
      i = parent;
    }
    heap[i] = entry;
  }

  #siftDown(start: number): void {
    const heap = this.#byExpiry;
    const entry = heap[start] as { expiresAtMs: number; id: string };
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as typeof entry).expiresAtMs < (heap[left] as typeof entry).expiresAtMs ? right : left;
      if ((heap[child] as typeof entry).expiresAtMs >= entry.expiresAtMs) break;
      heap[i] = heap[child] as typeof entry;
      i = child;
    }
    heap[i] = entry;
  }
}
