import { type RedisServer, startRedis } from '@cache-tooling/redis-server';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** The redis-server of a test file, with what its tests need around it. */
export interface FileRedis {
  /** The server; it runs once `beforeAll` ran. */
  server(): RedisServer;
  /** A plain ioredis client to look at what the code under test wrote. */
  raw(): Redis;
  /** Closes `store` after the current test. */
  closeAfterTest<S extends { close?(): Promise<void> }>(store: S): S;
}

/**
 * Starts a redis-server for this test file on a free port (never the machine's 6379), closes
 * the stores handed to `closeAfterTest` and empties the database after every test, and stops the
 * server after the file.
 */
export function redisOfFile(): FileRedis {
  let server: RedisServer | undefined;
  let raw: Redis | undefined;
  const open: { close?(): Promise<void> }[] = [];
  beforeAll(async () => {
    server = await startRedis();
    raw = new Redis(server.port);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close?.()));
    await raw?.flushdb();
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });
  const running = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the redis-server of this file is not running');
    return value;
  };
  return {
    server: () => running(server),
    raw: () => running(raw),
    closeAfterTest(store) {
      open.push(store);
      return store;
    },
  };
}
