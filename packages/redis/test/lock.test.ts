import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@cache/core';
import { describe, expect, test } from 'vitest';
import { redisLock } from '../src/index.js';
import { useRedis } from './redis.js';

const redis = useRedis();

describe('redisLock', () => {
  test('only one holder at a time; release lets the next one in', async () => {
    const lock = redisLock({ client: redis.raw, retryDelay: 10 });
    const first = await lock.acquire('a', { ttl: 10_000, timeout: 0 });
    expect(first).toBeDefined();
    expect(await lock.acquire('a', { ttl: 10_000, timeout: 30 })).toBeUndefined();
    const waiting = lock.acquire('a', { ttl: 10_000, timeout: 5_000 });
    await first!.release();
    const second = await waiting;
    expect(second).toBeDefined();
    await second!.release();
    expect(await redis.raw.exists('cache:lock:a')).toBe(0);
  });

  test('the lock key expires with the ttl (PX)', async () => {
    const lock = redisLock({ client: redis.raw, prefix: 'locks:' });
    const handle = await lock.acquire('ttl', { ttl: 5_000, timeout: 0 });
    const pttl = await redis.raw.pttl('locks:ttl');
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
    await handle!.release();
  });

  test('a holder whose lock expired neither releases nor extends the next holder’s lock', async () => {
    const lock = redisLock({ client: redis.raw });
    const stale = await lock.acquire('b', { ttl: 10_000, timeout: 0 });
    await redis.raw.del('cache:lock:b'); // what expiry does
    const current = await lock.acquire('b', { ttl: 10_000, timeout: 0 });
    await stale!.release();
    expect(await redis.raw.exists('cache:lock:b')).toBe(1);
    expect(await stale!.extend!(60_000)).toBe(false);
    expect(await current!.extend!(60_000)).toBe(true);
    expect(await redis.raw.pttl('cache:lock:b')).toBeGreaterThan(10_000);
    await current!.release();
  });

  test('an aborted wait resolves undefined', async () => {
    const lock = redisLock({ client: redis.raw });
    const held = await lock.acquire('c', { ttl: 10_000, timeout: 0 });
    const controller = new AbortController();
    const waiting = lock.acquire('c', { ttl: 10_000, timeout: 60_000, signal: controller.signal });
    controller.abort();
    expect(await waiting).toBeUndefined();
    await held!.release();
  });

  test('a bad ttl is an InvalidArgumentError', async () => {
    const lock = redisLock({ client: redis.raw });
    await expect(lock.acquire('d', { ttl: Number.NaN, timeout: 0 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  test('4 processes asking for the same cold key run the loader once', async () => {
    const worker = fileURLToPath(new URL('./fixtures/lockWorker.ts', import.meta.url));
    const children: ChildProcess[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        children.push(
          fork(worker, [String(redis.server.port), 'cold', 'loader-calls'], {
            execArgv: ['--import', 'tsx', '--conditions=@cache/source'],
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          }),
        );
      }
      // A worker that dies fails the test at once instead of leaving it waiting.
      const message = (child: ChildProcess) =>
        Promise.race([
          once(child, 'message').then(([value]) => value),
          once(child, 'exit').then(([code]) => Promise.reject(new Error(`worker exited ${code}`))),
        ]);
      await Promise.all(children.map(message));
      const answers = children.map(message);
      for (const child of children) child.send('go');
      const values = await Promise.all(answers);
      expect(Number(await redis.raw.get('loader-calls'))).toBe(1);
      expect(new Set(values).size).toBe(1);
    } finally {
      for (const child of children) child.kill();
    }
  });
});
