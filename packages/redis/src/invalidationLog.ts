import type { RedisClient } from './connection.js';
import { LuaScript } from './luaScript.js';

// Appends the message (a JSON object) to the stream (trimmed to about `length` entries) and
// publishes it on the channel with its entry id as its first member, `logId`, in one step: a
// subscriber that sees the message knows where it is in the log, a message that was not logged
// was not sent either, and a subscriber that knows nothing of logs reads it as before.
const APPEND = new LuaScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[2])
redis.call('PUBLISH', ARGV[1], '{"logId":"' .. id .. '",' .. string.sub(ARGV[2], 2))
return id`);

// The server's run_id, which changes when it restarts or another server takes over: one that
// lost the log's tail (a restart from an older snapshot, a failover to a replica behind) may
// still hold a cursor's entry, but not the entries after it that a subscriber missed.
// A server that refuses INFO in scripts (some managed services) answers '' every time: the check
// is then off, as before it existed.
const SERVER = `local ok, info = pcall(redis.call, 'INFO', 'server')
local server = ok and string.match(info, 'run_id:(%w+)') or ''`;

// The id of the newest entry and the server's run_id; an empty log gets a mark first, so that
// every cursor names an entry whose disappearance shows that the log was trimmed past it (or
// lost with Redis).
const LAST = new LuaScript(`${SERVER}
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] then return {last[1][1], server} end
return {redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ''), server}`);

// The server's run_id (on the node that holds the log, on a Cluster).
const RUN_ID = new LuaScript(`${SERVER}
return server`);

/** How many entries one read of the log asks for. */
const PAGE = 1_000;

/** Where a subscriber stands in the log: the id of the last entry it saw, on which server. */
export interface LogCursor {
  id: string;
  /** The run_id of the server that logged it. */
  server: string;
}

/** An entry of the log: its id and the message text (`''` for a mark). */
export interface LogEntry {
  id: string;
  text: string;
}

/**
 * The log of invalidation messages in a Redis Stream, beside the pub/sub channel that carries
 * them live: a subscriber remembers the id of the last message it saw (its cursor) and, after a
 * disconnection, reads what it missed instead of distrusting everything it holds.
 */
export class InvalidationLog {
  /** The stream's key. */
  readonly key: string;
  readonly #length: string;

  /** A log in the stream `key`, trimmed to about `length` entries. */
  constructor(key: string, length: number) {
    this.key = key;
    this.#length = String(length);
  }

  /** Logs and publishes `text` on `channel`; resolves to its entry id. */
  append(client: RedisClient, channel: string, text: string): Promise<unknown> {
    return APPEND.run(client, [this.key], [channel, text, this.#length]);
  }

  /** The newest entry, the cursor of a subscriber that has just subscribed. */
  async last(client: RedisClient): Promise<LogCursor> {
    const [id, server] = (await LAST.run(client, [this.key], [this.#length])) as [string, string];
    return { id: String(id), server: String(server) };
  }

  /**
   * The entries after `cursor`, oldest first, or `undefined` when the entry `cursor` names is
   * gone (the log was trimmed past it or lost) or another server answers (one restarted from an
   * older snapshot, a replica that took over): what was missed cannot be known.
   */
  async since(client: RedisClient, cursor: LogCursor): Promise<LogEntry[] | undefined> {
    if (String(await RUN_ID.run(client, [this.key], [])) !== cursor.server) return undefined;
    const entries: LogEntry[] = [];
    let from = cursor.id;
    for (;;) {
      const page = (await client.xrange(this.key, from, '+', 'COUNT', PAGE)) as [
        string,
        string[],
      ][];
      if (page[0]?.[0] !== from) return undefined;
      for (let index = 1; index < page.length; index++) {
        const [id, fields] = page[index]!;
        entries.push({ id, text: fields[1] ?? '' });
      }
      if (page.length < PAGE) return entries;
      from = page[page.length - 1]![0];
    }
  }
}

/** Whether the stream id `a` comes after `b` (`'ms-seq'`, compared as numbers). */
export function isAfter(a: string, b: string): boolean {
  const [aMs, aSeq] = a.split('-');
  const [bMs, bSeq] = b.split('-');
  if (aMs!.length !== bMs!.length) return aMs!.length > bMs!.length;
  if (aMs !== bMs) return aMs! > bMs!;
  return Number(aSeq) > Number(bSeq);
}
