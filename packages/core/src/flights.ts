/**
 * One read of a key by `getOrSet` and what may follow it: a loader call and the write of its
 * result (or of a grace backoff). Opened before the store read, so a mutation of the key while
 * the read, the load or the write is under way voids it.
 */
export class Flight<R = unknown> {
  /** Set by a mutation of the key: nothing this flight read or loaded may be stored or joined. */
  voided = false;
  /**
   * Tags invalidated while the flight was open: it is no longer joined, and what it loads is
   * stored only if it carries none of them (its tags are known once the loader has returned).
   */
  suspect: Set<string> | undefined;
  /** Left the registry at a hard timeout: no longer joined, but may still store its result. */
  detached = false;
  /** True while the loader runs synchronously: a `getOrSet` of the key from inside it is a cycle. */
  calling = false;
  /** What every caller of the flight receives; set when it starts loading. */
  promise: Promise<R> | undefined;
  /** Until when (ms) its loaded value is fresh, once known: no caller joins it afterwards. */
  freshUntil = Number.POSITIVE_INFINITY;

  constructor(
    /** The full key (with the namespace prefix). */
    readonly key: string,
    /** The key callers join on: the full key, and the version asked for. */
    readonly id: string,
  ) {}
}

// Past this many backoff records, expired ones are swept on the next insertion.
const BACKOFF_SWEEP = 10_000;

/**
 * The registry of flights, and the one write barrier of a cache: every mutation of a key (a
 * set, delete, clear, pattern, tag invalidation, or one relayed from another process) voids the
 * flights that read or loaded it before, and they leave the registry at once, so callers who come
 * after the mutation start afresh and nothing read before it is written after it. A flight
 * writes only through {@link Flights.commit}, which checks that, in the same tick as the write.
 */
export class Flights {
  // Flights callers may join, by id.
  readonly #joinable = new Map<string, Flight>();
  // Flights that may still write, by full key (one flight, or several of different versions).
  readonly #open = new Map<string, Flight | Set<Flight>>();
  // Flights past their hard timeout, by id: a new flight of the id supersedes them.
  readonly #detached = new Map<string, Flight>();
  // Keys whose loader failed and whose stale value is served without loading until then (ms).
  readonly #backoff = new Map<string, number>();
  #loading = 0;

  /** Loader calls running now. */
  get loading(): number {
    return this.#loading;
  }

  /**
   * The running flight callers of `id` share at `now`, if any: not one whose loaded value (still
   * being stored) has expired meanwhile.
   */
  join(id: string, now: number): Flight | undefined {
    const flight = this.#joinable.get(id);
    return flight !== undefined && flight.freshUntil > now ? flight : undefined;
  }

  /** Opens a flight before its store read. */
  open<R>(key: string, id: string): Flight<R> {
    const flight = new Flight<R>(key, id);
    const open = this.#open.get(key);
    if (open === undefined) this.#open.set(key, flight);
    else if (open instanceof Set) open.add(flight);
    else this.#open.set(key, new Set([open, flight]));
    return flight;
  }

  /**
   * Starts the flight's load: later callers join it (unless a mutation voided it meanwhile), and
   * an older flight of the same id that timed out is superseded (its late result is not stored).
   */
  fly<R>(flight: Flight<R>, promise: Promise<R>): void {
    flight.promise = promise;
    this.#loading++;
    const superseded = this.#detached.get(flight.id);
    if (superseded !== undefined) this.#void(superseded);
    if (!flight.voided && flight.suspect === undefined) this.#joinable.set(flight.id, flight);
  }

  /** The loader call of the flight settled. */
  loaded(): void {
    this.#loading--;
  }

  /** The flight's hard timeout elapsed: new callers start a new flight. */
  detach(flight: Flight): void {
    if (flight.voided || flight.detached) return;
    flight.detached = true;
    if (this.#joinable.get(flight.id) === flight) this.#joinable.delete(flight.id);
    this.#detached.set(flight.id, flight);
  }

  /**
   * Runs `write` (a store write of what the flight read or loaded, carrying `tags`) unless a
   * mutation voided the flight or one of `tags` was invalidated while it was open, in the same
   * tick as the check. Returns the write's promise, or `undefined` if it did not run.
   */
  commit<T>(
    flight: Flight,
    tags: readonly string[] | undefined,
    write: () => Promise<T>,
  ): Promise<T> | undefined {
    if (flight.voided) return undefined;
    const { suspect } = flight;
    if (suspect !== undefined && tags?.some((tag) => suspect.has(tag))) return undefined;
    return write();
  }

  /** The flight is done (read answered, or its write settled): it leaves the registry. */
  land(flight: Flight): void {
    if (this.#joinable.get(flight.id) === flight) this.#joinable.delete(flight.id);
    if (this.#detached.get(flight.id) === flight) this.#detached.delete(flight.id);
    this.#close(flight);
  }

  /** Voids the flights and backoffs of one key. */
  voidKey(key: string): void {
    const open = this.#open.get(key);
    if (open instanceof Set) for (const flight of open) this.#void(flight);
    else if (open !== undefined) this.#void(open);
    if (this.#backoff.size > 0) this.#backoff.delete(key);
  }

  /** Voids the flights and backoffs of every key `matches` accepts. */
  voidWhere(matches: (key: string) => boolean): void {
    for (const key of [...this.#open.keys()]) if (matches(key)) this.voidKey(key);
    for (const key of [...this.#backoff.keys()]) if (matches(key)) this.#backoff.delete(key);
  }

  /**
   * `tags` were invalidated: any flight may carry one (a loader can set its tags), so none is
   * joined any more and each stores only what carries none of them (see {@link Flights.commit});
   * flights of other tags still store, so the callers who come next find their values.
   */
  voidTags(tags: readonly string[]): void {
    for (const open of this.#open.values()) {
      if (open instanceof Set) for (const flight of open) this.#suspect(flight, tags);
      else this.#suspect(open, tags);
    }
    this.#backoff.clear();
  }

  /** Voids every flight and backoff (a clear may cover any key). */
  voidAll(): void {
    for (const key of [...this.#open.keys()]) this.voidKey(key);
    this.#backoff.clear();
  }

  /**
   * Serves the key's stale value without loading until `until` (ms), after its loader failed.
   * Nothing is recorded for a voided flight: what it read predates a mutation.
   */
  backOff(flight: Flight, until: number, now: number): void {
    if (flight.voided || flight.suspect !== undefined) return;
    if (this.#backoff.size >= BACKOFF_SWEEP) {
      for (const [key, end] of this.#backoff) if (end <= now) this.#backoff.delete(key);
    }
    this.#backoff.set(flight.key, until);
  }

  /** Whether the key's loader failed lately, so its stale value is served without loading. */
  backingOff(key: string, now: number): boolean {
    if (this.#backoff.size === 0) return false;
    const until = this.#backoff.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#backoff.delete(key);
    return false;
  }

  #suspect(flight: Flight, tags: readonly string[]): void {
    flight.suspect ??= new Set();
    for (const tag of tags) flight.suspect.add(tag);
    if (this.#joinable.get(flight.id) === flight) this.#joinable.delete(flight.id);
  }

  #void(flight: Flight): void {
    flight.voided = true;
    if (this.#joinable.get(flight.id) === flight) this.#joinable.delete(flight.id);
    if (this.#detached.get(flight.id) === flight) this.#detached.delete(flight.id);
    this.#close(flight);
  }

  #close(flight: Flight): void {
    const open = this.#open.get(flight.key);
    if (open === flight) this.#open.delete(flight.key);
    else if (open instanceof Set) {
      open.delete(flight);
      if (open.size === 0) this.#open.delete(flight.key);
    }
  }
}
