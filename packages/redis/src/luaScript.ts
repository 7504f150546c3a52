import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './connection.js';

/** The arguments of a script: its keys, then its other arguments. */
type ScriptArgs = [keys: string[], args: (string | number)[]];

// The scripts each client's server has run since the client last connected: EVAL (the text)
// teaches the server a script, EVALSHA (its SHA1) runs one it knows. A server that restarted
// knows none, and the client reconnects, so a client's set is emptied when it loses its server.
const known = new WeakMap<RedisClient, Set<string>>();

function knownBy(client: RedisClient): Set<string> {
  let scripts = known.get(client);
  if (scripts === undefined) {
    const set = new Set<string>();
    client.on('close', () => set.clear());
    known.set(client, set);
    scripts = set;
  }
  return scripts;
}

/**
 * A Lua script sent by its SHA1 (`EVALSHA`) once the server knows it: its text (hundreds of
 * bytes) crosses the wire once per connection. On the hot path (a load's write is a script when
 * fences are on), that keeps every call about as small as the plain command it replaces. Commands
 * keep the order they were issued in: a script is never sent again later because the server did
 * not know it, except when its cache was flushed under a live connection (`SCRIPT FLUSH`).
 */
export class LuaScript {
  /** The script's text. */
  readonly source: string;
  /** Its SHA1, the name `EVALSHA` knows it by. */
  readonly sha: string;

  /** A script with this text. */
  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script with these keys and arguments; resolves to its answer. */
  async run(client: RedisClient, ...[keys, args]: ScriptArgs): Promise<unknown> {
    const scripts = knownBy(client);
    if (!scripts.has(this.sha)) {
      scripts.add(this.sha); // the server will know it once this EVAL reaches it
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }

  /**
   * Queues the script in a pipeline of `client`: check the pipeline's answers with
   * {@link isNoScript} and {@link run} again those the server did not know.
   */
  queue(client: RedisClient, pipeline: ChainableCommander, ...[keys, args]: ScriptArgs): void {
    const scripts = knownBy(client);
    if (scripts.has(this.sha)) pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
    else {
      scripts.add(this.sha);
      pipeline.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** Whether Redis answered that it does not know the script (`NOSCRIPT`). */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
