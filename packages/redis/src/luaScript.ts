import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { isCluster, type RedisClient } from './connection.js';

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

/** Options of a {@link LuaScript}. */
export interface LuaScriptOptions {
  /**
   * The script writes what other commands of the tick may write too, so it must run in the order
   * it was issued: when the server did not know it (`NOSCRIPT`: it restarted, or another server
   * took over, while the call was in flight and ioredis sent it again; or `SCRIPT FLUSH`), the
   * call rejects instead of sending the text again after the commands issued since. The command
   * did not run; the next call sends the text.
   * @default false
   */
  ordered?: boolean;
}

/**
 * A Lua script sent by its SHA1 (`EVALSHA`) once the server knows it: its text (hundreds of
 * bytes) crosses the wire once per connection. On the hot path (a load's write is a script when
 * fences are on), that keeps every call about as small as the plain command it replaces. A call
 * goes out in the order it was issued; a script the server no longer knows is sent again as
 * text, or, when {@link LuaScriptOptions.ordered}, the call rejects. On a Cluster, whose nodes
 * learn scripts each on their own, the text goes out every time.
 */
export class LuaScript {
  /** The script's text. */
  readonly source: string;
  /** Its SHA1, the name `EVALSHA` knows it by. */
  readonly sha: string;
  readonly #ordered: boolean;

  /** A script with this text. */
  constructor(source: string, options: LuaScriptOptions = {}) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
    this.#ordered = options.ordered ?? false;
  }

  /** Runs the script with these keys and arguments; resolves to its answer. */
  async run(client: RedisClient, ...[keys, args]: ScriptArgs): Promise<unknown> {
    // A Cluster's nodes each learn scripts of their own, and ioredis picks the node per call.
    if (isCluster(client)) return client.eval(this.source, keys.length, ...keys, ...args);
    if (!this.#known(client)) return client.eval(this.source, keys.length, ...keys, ...args);
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      if (this.#ordered) throw this.failure(error as Error, client);
      knownBy(client).delete(this.sha);
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }

  /**
   * Queues the script in a pipeline of `client`; pass an error among the pipeline's answers
   * through {@link failure}.
   */
  queue(client: RedisClient, pipeline: ChainableCommander, ...[keys, args]: ScriptArgs): void {
    if (this.#known(client)) pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
    else pipeline.eval(this.source, keys.length, ...keys, ...args);
  }

  // Whether `client`'s server knows the script; if not, it will once the EVAL the caller sends
  // now reaches it, so later calls send EVALSHA.
  #known(client: RedisClient): boolean {
    const scripts = knownBy(client);
    if (scripts.has(this.sha)) return true;
    scripts.add(this.sha);
    return false;
  }

  /**
   * The error a call of this script on `client` rejects with for Redis' `error`: after
   * `NOSCRIPT`, the script is forgotten for the client (the next call sends the text), and the
   * error says that the command did not run.
   */
  failure(error: Error, client: RedisClient): Error {
    if (!isNoScript(error)) return error;
    knownBy(client).delete(this.sha);
    return new Error(
      `the Redis server did not know the script (it restarted or was replaced): the command did not run (${error.message})`,
      { cause: error },
    );
  }
}

/** Whether Redis answered that it does not know the script (`NOSCRIPT`). */
function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
