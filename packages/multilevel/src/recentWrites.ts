/** The most landed writes followed at once; beyond it the oldest is forgotten. */
const MOST_KEYS = 10_000;

/** A key followed: its writes under way, and its last landing still followed. */
interface Followed {
  /** Writes of the key under way. */
  writing: number;
  /** Another process's write of the key was heard while one of these writes was under way. */
  heard: boolean;
  /** Until when its last landed write is followed (ms since the epoch); 0: none is. */
  until: number;
  /** Which landing that is (its number in the queue of landings); 0: none. */
  landing: number;
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
  // One record per key, from its first write's start until its last landing is forgotten: a
  // write costs one insertion and one deletion, whatever it overlaps.
  readonly #followed = new Map<string, Followed>();
  // Landings still followed, in the order they landed (so by `until`), from index #first on: the
  // entries that no longer match their key's record (forgotten, or landed again since: told by
  // the landing's number, as two landings of a key in one millisecond share their `until`) are
  // skipped when they come up, and dropped all at once when they outnumber the others. (A Map
  // iterated from its front after many deletions walks their holes on every call.)
  #order: string[] = [];
  #numbers: number[] = [];
  #first = 0;
  #landings = 0;
  #lastLanding = 0;
  readonly #window: number;
  readonly #redo: (key: string) => void;

  /** Follows each landed write for `window` ms; `redo` deletes a key everywhere. */
  constructor(window: number, redo: (key: string) => void) {
    this.#window = window;
    this.#redo = redo;
  }

  /** How many keys are followed. */
  get size(): number {
    return this.#followed.size;
  }

  /** Writes of `keys` start. */
  started(keys: readonly string[]): void {
    for (const key of keys) {
      const followed = this.#followed.get(key);
      if (followed === undefined) {
        this.#followed.set(key, { writing: 1, heard: false, until: 0, landing: 0 });
      } else followed.writing++;
    }
  }

  /** Writes of `keys` ended (landed or not: a failed one may still land in Redis). */
  ended(keys: readonly string[]): void {
    const now = Date.now();
    for (const key of keys) {
      const followed = this.#followed.get(key);
      if (followed === undefined || --followed.writing > 0) continue;
      this.#unland(followed);
      if (followed.heard) {
        this.#followed.delete(key);
        this.#redo(key);
        continue;
      }
      followed.until = now + this.#window;
      followed.landing = ++this.#lastLanding;
      this.#landings++;
      this.#order.push(key);
      this.#numbers.push(followed.landing);
    }
    this.#forget(now);
  }

  /**
   * Another process cleared or deleted by pattern the keys `matches` accepts (all of them when
   * this process may have missed messages).
   */
  heardWhere(matches: (key: string) => boolean): void {
    this.heard([...this.#followed.keys()].filter(matches));
  }

  /** Another process wrote or deleted `keys`. */
  heard(keys: readonly string[]): void {
    if (this.#followed.size === 0) return;
    const now = Date.now();
    for (const key of keys) {
      const followed = this.#followed.get(key);
      if (followed === undefined) continue;
      if (followed.writing > 0) {
        followed.heard = true;
        this.#unland(followed);
        continue;
      }
      const until = followed.until;
      this.#unland(followed);
      this.#followed.delete(key);
      if (until > now) this.#redo(key);
    }
  }

  // The key's last landing is no longer followed.
  #unland(followed: Followed): void {
    if (followed.until === 0) return;
    followed.until = 0;
    followed.landing = 0;
    this.#landings--;
  }

  // Forgets the landings whose window has passed, and the oldest beyond MOST_KEYS.
  #forget(now: number): void {
    const order = this.#order;
    const numbers = this.#numbers;
    let first = this.#first;
    while (first < order.length) {
      const key = order[first]!;
      const followed = this.#followed.get(key);
      if (followed !== undefined && followed.landing === numbers[first]) {
        if (followed.until > now && this.#landings <= MOST_KEYS) break;
        this.#unland(followed);
        if (followed.writing === 0) this.#followed.delete(key);
      }
      first++;
    }
    this.#first = first;
    // The queue is rewritten once what it holds past its front, or behind it for landings no
    // longer followed, outweighs the rest (so it stays within about twice the landings followed).
    const queued = order.length - first;
    if (queued > 2 * this.#landings + 1024 || (first > 1024 && first > queued)) this.#compact();
  }

  // Keeps only the entries of landings still followed, in their order.
  #compact(): void {
    const order: string[] = [];
    const numbers: number[] = [];
    for (let i = this.#first; i < this.#order.length; i++) {
      const key = this.#order[i]!;
      const number = this.#numbers[i]!;
      if (this.#followed.get(key)?.landing === number) {
        order.push(key);
        numbers.push(number);
      }
    }
    this.#order = order;
    this.#numbers = numbers;
    this.#first = 0;
  }
}
