/** The most landed writes followed at once; beyond it the oldest is forgotten. */
const MOST_KEYS = 10_000;

/** Writes of one key under way. */
interface Writing {
  count: number;
  /** Another process's write of the key was heard while one of these writes was under way. */
  heard: boolean;
}

/**
 * The keys this process wrote to the shared tiers lately. Another process's write (or delete)
 * of such a key, heard over the bus while this write was under way or soon after it landed, may
 * have reached Redis before this one: this write may then have overwritten the newer value,
 * the old value of a load that began before the other write, say. Such a key is deleted again
 * everywhere once this write has landed (`redo`): a reload reads the newer value, while keeping
 * the key could serve the old one for its whole TTL. Each write is redone at most once, so two
 * processes writing one key settle after a delete each.
 */
export class RecentWrites {
  readonly #writing = new Map<string, Writing>();
  // Landed writes: key → until when it is followed.
  readonly #landed = new Map<string, number>();
  // The same, in the order they landed (so by `until`), from index #first on: the entries that
  // no longer match #landed (forgotten, or landed again since) are skipped when they come up.
  // A Map iterated from its front after many deletions walks their holes on every call.
  #order: string[] = [];
  #untils: number[] = [];
  #first = 0;
  readonly #window: number;
  readonly #redo: (key: string) => void;

  /** Follows each landed write for `window` ms; `redo` deletes a key everywhere. */
  constructor(window: number, redo: (key: string) => void) {
    this.#window = window;
    this.#redo = redo;
  }

  /** How many keys are followed. */
  get size(): number {
    return this.#writing.size + this.#landed.size;
  }

  /** Writes of `keys` start. */
  started(keys: readonly string[]): void {
    for (const key of keys) {
      const writing = this.#writing.get(key);
      if (writing === undefined) this.#writing.set(key, { count: 1, heard: false });
      else writing.count++;
    }
  }

  /** Writes of `keys` ended (landed or not: a failed one may still land in Redis). */
  ended(keys: readonly string[]): void {
    const now = Date.now();
    for (const key of keys) {
      const writing = this.#writing.get(key);
      if (writing === undefined || --writing.count > 0) continue;
      this.#writing.delete(key);
      this.#landed.delete(key);
      if (writing.heard) this.#redo(key);
      else this.#land(key, now + this.#window);
    }
    this.#forget(now);
  }

  #land(key: string, until: number): void {
    this.#landed.set(key, until);
    this.#order.push(key);
    this.#untils.push(until);
  }

  // Forgets the landed writes whose window has passed, and the oldest beyond MOST_KEYS.
  #forget(now: number): void {
    const order = this.#order;
    const untils = this.#untils;
    let first = this.#first;
    while (first < order.length) {
      const until = untils[first]!;
      const queued = order.length - first;
      if (until > now && this.#landed.size <= MOST_KEYS && queued <= 2 * MOST_KEYS) break;
      const key = order[first]!;
      if (this.#landed.get(key) === until) this.#landed.delete(key);
      first++;
    }
    if (first > 1024 && first * 2 > order.length) {
      this.#order = order.slice(first);
      this.#untils = untils.slice(first);
      first = 0;
    }
    this.#first = first;
  }

  /**
   * Another process cleared or deleted by pattern the keys `matches` accepts (all of them when
   * this process may have missed messages).
   */
  heardWhere(matches: (key: string) => boolean): void {
    this.heard([...this.#writing.keys(), ...this.#landed.keys()].filter(matches));
  }

  /** Another process wrote or deleted `keys`. */
  heard(keys: readonly string[]): void {
    if (this.#writing.size === 0 && this.#landed.size === 0) return;
    const now = Date.now();
    for (const key of keys) {
      const writing = this.#writing.get(key);
      if (writing !== undefined) writing.heard = true;
      const until = this.#landed.get(key);
      if (until === undefined) continue;
      this.#landed.delete(key);
      if (until > now && writing === undefined) this.#redo(key);
    }
  }
}
