// Fences: a load may read the database before another process updates it and store what it read
// after that process's invalidation. Every write and delete of a key leaves a fence (the Redis
// clock's time, under `<prefix>__cache:fence:<key>`, for a while), a clear or pattern delete one
// for every key (`<prefix>__cache:fence`), and a load's write is refused when another writer
// fenced the key at or after the moment its load began. A writer's own fences never refuse its
// loads (in one process, the cache's write barrier orders writes and loads already: a write
// voids the loads in flight), and never hide another writer's: a fence keeps the time of the
// last fencing by any other writer too. Each script answers the Redis
// clock's time too, so the store learns where that clock stands against its own (RedisClock).

import { randomUUID } from 'node:crypto';
import { RESERVED_PREFIX } from '@cache/core';
import type { Redis } from 'ioredis';
import type { RedisConnection } from './connection.js';
import { LuaScript } from './luaScript.js';
import { localNow, RedisClock } from './redisClock.js';

// What every fence script starts with: the Redis clock in ms since the epoch, with
// microseconds (`now`), and the fences of writer ARGV[2], lasting ARGV[1] ms. A fence reads
// `<time> <writer> <other>`: when it was last fenced, by whom, and when it was last fenced by any
// other writer (0: never), so that a writer fencing a key again never hides another's fence.
const PRELUDE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local function stamp(at)
  return string.format('%.3f', at)
end
local function fence(name)
  local other = 0
  local old = redis.call('GET', name)
  if old then
    local at, writer, before = string.match(old, '^(%S+) (%S+) ?(%S*)$')
    if writer ~= ARGV[2] then other = tonumber(at) or 0 else other = tonumber(before) or 0 end
  end
  redis.call('SET', name, stamp(now) .. ' ' .. ARGV[2] .. ' ' .. stamp(other), 'PX', ARGV[1])
end
local function fencedByOthers(name)
  local old = redis.call('GET', name)
  if not old then return 0 end
  local at, writer, before = string.match(old, '^(%S+) (%S+) ?(%S*)$')
  if not at then return math.huge end
  if writer ~= ARGV[2] then return tonumber(at) or math.huge end
  return tonumber(before) or 0
end
`;

/**
 * Loads' writes sent together (see Fences.writeLoaded). KEYS: the fence of every key, then each
 * write's key and fence. ARGV: how long fences last, the writer's id, then each write's entry
 * text, TTL in ms ('' for none) and the Redis time its load began (at the latest). A write is
 * refused when another writer fenced its key (or every key) at or after its load's start, or when
 * the load began longer ago than fences last (nothing can tell what happened meanwhile). Answers
 * {a '1' (stored) or '0' per write, now}.
 */
const FENCED_SETS = new LuaScript(
  `${PRELUDE}
local limit = tonumber(ARGV[1])
local all = fencedByOthers(KEYS[1])
local stored = {}
for i = 1, (#KEYS - 1) / 2 do
  local since = tonumber(ARGV[3 * i + 2])
  stored[i] = '0'
  if now - since < limit and all < since and fencedByOthers(KEYS[2 * i + 1]) < since then
    local ttl = ARGV[3 * i + 1]
    if ttl == '' then
      redis.call('SET', KEYS[2 * i], ARGV[3 * i])
    else
      redis.call('SET', KEYS[2 * i], ARGV[3 * i], 'PX', ttl)
    end
    stored[i] = '1'
  end
end
return {table.concat(stored), stamp(now)}`,
  { ordered: true },
);

/**
 * A write of a key that fences it. KEYS: the key, its fence. ARGV: how long fences last, the
 * writer's id, the entry's text, its TTL in ms ('' for none). Answers {1, now}.
 */
const FENCING_SET = new LuaScript(
  `${PRELUDE}
fence(KEYS[2])
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return {1, stamp(now)}`,
  { ordered: true },
);

/**
 * Deletes keys and fences them. KEYS: the keys, then their fences, in the same order. ARGV: how
 * long fences last, the writer's id. Answers {how many keys existed, now}.
 */
const FENCING_DELETE = new LuaScript(
  `${PRELUDE}
local count = #KEYS / 2
for i = 1, count do
  fence(KEYS[count + i])
end
local removed = redis.call('UNLINK', unpack(KEYS, 1, count))
return {removed, stamp(now)}`,
  { ordered: true },
);

/**
 * Fences keys (before a soft invalidation rewrites them). KEYS: their fences. ARGV: how long
 * fences last, the writer's id. Answers {how many, now}.
 */
const FENCE_KEYS = new LuaScript(
  `${PRELUDE}
for i = 1, #KEYS do
  fence(KEYS[i])
end
return {#KEYS, stamp(now)}`,
  { ordered: true },
);

/**
 * Fences every key (around a clear or pattern delete). KEYS: the fence of every key. ARGV: how
 * long fences last, the writer's id. Answers {1, now}.
 */
const FENCE_ALL = new LuaScript(
  `${PRELUDE}
fence(KEYS[1])
return {1, stamp(now)}`,
  { ordered: true },
);

/** How many keys one script fences, or how many loads' writes it makes. */
const FENCES_PER_SCRIPT = 1_000;

/** A TTL as a script argument: `''` for none. */
function ttlArg(ttl: number | undefined): string | number {
  return ttl === undefined ? '' : ttl;
}

/** A write's arguments: the key in Redis, the key in the store, the entry's text, its TTL in ms. */
export interface FenceWrite {
  redisKey: string;
  key: string;
  text: string;
  ttl: number | undefined;
}

/** A load's write held back to go with others, with the Redis time its load began (at the latest). */
interface LoadedWrite {
  write: FenceWrite;
  since: string;
  done: () => void;
  failed: (error: unknown) => void;
}

/**
 * The fences of one store (a view of it is another writer, as another cache would be): explicit
 * writes and deletes fence their keys, a clear fences every key, and a load's write is refused
 * when another writer fenced its key after the load began. Counts the refusals.
 */
export class Fences {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  readonly #ttl: string;
  readonly #clock = new RedisClock();
  // Names this store's fences: its own never refuse its loads.
  readonly #writer = randomUUID();
  #reading: Promise<void> | undefined;
  // Loads' writes held back, not sent yet; whether one was sent at once in this tick already.
  #loaded: LoadedWrite[] = [];
  #sentInTick = false;
  readonly #onReady = () => void this.#readClock().catch(() => {});
  /** Loads' writes refused so far. */
  refused = 0;

  /**
   * Fences for keys under `prefix`, lasting `ttl` ms. Reads the Redis clock at once, and again
   * whenever the client is ready (connected or reconnected): a first reading that timed out
   * while the client connected, or a server that changed, would otherwise leave loads' writes
   * refused until one of them asks for a reading.
   */
  constructor(connection: RedisConnection, prefix: string, ttl: number) {
    this.#connection = connection;
    this.#prefix = prefix;
    this.#ttl = String(ttl);
    this.#onReady();
    connection.client.on('ready', this.#onReady);
  }

  /** Stops following the client's reconnections. */
  close(): void {
    this.#connection.client.off('ready', this.#onReady);
  }

  /** How long fences last, in ms. */
  get ttl(): number {
    return Number(this.#ttl);
  }

  /** Stores the entry (an explicit write) and fences its key. */
  async write({ redisKey, key, text, ttl }: FenceWrite): Promise<void> {
    await this.#run(FENCING_SET, [
      [redisKey, this.#fenceOf(key)],
      [this.#ttl, this.#writer, text, ttlArg(ttl)],
    ]);
  }

  /**
   * Queues in a pipeline the fences of `keys` (one script per 1,000 keys), to go before their
   * writes; {@link settle} their answers. Returns how many commands it queued.
   */
  queue(client: Redis, pipeline: ReturnType<Redis['pipeline']>, keys: string[]): number {
    let queued = 0;
    for (let from = 0; from < keys.length; from += FENCES_PER_SCRIPT) {
      const fences = keys.slice(from, from + FENCES_PER_SCRIPT).map((key) => this.#fenceOf(key));
      FENCE_KEYS.queue(client, pipeline, fences, [this.#ttl, this.#writer]);
      queued++;
    }
    return queued;
  }

  /**
   * Learns the clock from the answers of {@link queue}d fences; answers the first error (a
   * script the server did not know did not run: see `LuaScript`).
   */
  settle(client: Redis, results: [Error | null, unknown][]): Error | undefined {
    let failed: Error | undefined;
    for (const [error, answer] of results) {
      if (error) failed ??= FENCE_KEYS.failure(error, client);
      else this.#observe(answer);
    }
    return failed;
  }

  /**
   * A load's write, whose loader began at local moment `since`: stored unless another writer
   * fenced the key, or every key, at or after that moment (mapped onto the Redis clock, never
   * later than it was), or the load is older than fences last. Refused too while the Redis clock
   * is not known yet (a reading is under way): waiting for it would send the write after the
   * others of its tick, and a refused load's write only means that the next read loads again.
   * The first load's write of a tick goes out at once; the others wait for the event loop's
   * check phase and go as one script with every load's write made until then, or sooner, before
   * the next command of the connection that is not a read of other keys (see
   * `RedisConnection.hold`): 200 concurrent misses whose reads come back over several ticks
   * store their values in one script instead of one per tick.
   */
  writeLoaded(write: FenceWrite, since: number): Promise<void> {
    if (!this.#clock.known) {
      void this.#readClock().catch(() => {});
      this.refused++;
      return Promise.resolve();
    }
    const at = this.#redisTimeOf(since).toFixed(3);
    return new Promise((done, failed) => {
      this.#loaded.push({ write, since: at, done, failed });
      if (this.#loaded.length > 1 || this.#sentInTick) {
        this.#connection.holding(write.redisKey);
        if (this.#loaded.length === 1) this.#connection.hold(this.#sendLoaded);
        return;
      }
      // The tick's first goes at once: alone (one caller), it reaches Redis before the next
      // call's read instead of in one packet with it, whose answer would then wait for the
      // write's (1.8 GET round trips per miss instead of 1.1, measured).
      this.#sentInTick = true;
      process.nextTick(this.#tickEnded);
      this.#sendLoaded();
    });
  }

  readonly #tickEnded = () => {
    this.#sentInTick = false;
  };

  // Sends the loads' writes held back (one script per FENCES_PER_SCRIPT), in the order issued.
  readonly #sendLoaded = () => {
    const loaded = this.#loaded;
    this.#loaded = [];
    for (let from = 0; from < loaded.length; from += FENCES_PER_SCRIPT) {
      const writes = loaded.slice(from, from + FENCES_PER_SCRIPT);
      const keys = [this.#fenceOfAll()];
      const args: (string | number)[] = [this.#ttl, this.#writer];
      for (const { write, since } of writes) {
        keys.push(write.redisKey, this.#fenceOf(write.key));
        args.push(write.text, ttlArg(write.ttl), since);
      }
      this.#connection
        .send((client) => FENCED_SETS.run(client, keys, args))
        .then(
          (answer) => {
            const stored = String(this.#observe(answer));
            writes.forEach((loaded, i) => {
              if (stored[i] !== '1') this.refused++;
              loaded.done();
            });
          },
          (error: unknown) => {
            for (const loaded of writes) loaded.failed(error);
          },
        );
    }
  };

  /** Deletes the keys (one script: a single node) and fences them; answers how many existed. */
  delete(keys: string[]): Promise<number> {
    return this.#run(FENCING_DELETE, [
      [...keys.map((key) => this.#prefix + key), ...keys.map((key) => this.#fenceOf(key))],
      [this.#ttl, this.#writer],
    ]);
  }

  /** Fences keys, without writing them (before a soft invalidation rewrites them). */
  async fence(keys: string[]): Promise<void> {
    await this.#run(FENCE_KEYS, [keys.map((key) => this.#fenceOf(key)), [this.#ttl, this.#writer]]);
  }

  /** Fences every key (before, and after, a clear or pattern delete). */
  async all(): Promise<void> {
    await this.#run(FENCE_ALL, [[this.#fenceOfAll()], [this.#ttl, this.#writer]]);
  }

  #fenceOf(key: string): string {
    return `${this.#prefix}${RESERVED_PREFIX}fence:${key}`;
  }

  #fenceOfAll(): string {
    return `${this.#prefix}${RESERVED_PREFIX}fence`;
  }

  // Runs a script (answering {result, Redis time}) and learns the Redis clock from its answer.
  async #run(script: LuaScript, [keys, args]: [string[], (string | number)[]]): Promise<number> {
    const answer = await this.#connection.send((client) => script.run(client, keys, args));
    return Number(this.#observe(answer));
  }

  // Learns the Redis clock from a script's answer {result, Redis time}; returns the result.
  #observe(answer: unknown): unknown {
    const [result, time] = answer as [unknown, string];
    this.#clock.observe(Number(time));
    return result;
  }

  // The Redis time of local moment `moment`, at the latest; an old reading is renewed meanwhile.
  #redisTimeOf(moment: number): number {
    if (this.#clock.stale()) void this.#readClock().catch(() => {});
    return this.#clock.redisTimeOf(moment);
  }

  // Reads the Redis clock with TIME (one reading at a time).
  #readClock(): Promise<void> {
    this.#reading ??= this.#connection
      .run((client) => client.time())
      .then(([seconds, micros]) =>
        this.#clock.observe(Number(seconds) * 1000 + Number(micros) / 1000, localNow()),
      )
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }
}
