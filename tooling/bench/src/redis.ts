import { readFileSync } from 'node:fs';
import { redisStore } from '@cache/redis';
import { startRedis, startRedisCluster } from '@cache-tooling/redis-server';
import KeyvRedis, { Keyv } from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { redisDriver } from 'bentocache/drivers/redis';
import { Cluster, Redis } from 'ioredis';
import {
  type Contender,
  type Method,
  measure,
  type Result,
  type Run,
  rateTable,
  ratio,
  uniformOrder,
} from './harness.js';

/** Concurrent callers, each awaiting one get after another. */
export const CALLERS = 200;
const KEYS = 10_000;
const TTL = 3_600_000;

/** The row of our store, the reference of the targets. */
export const REDIS_OURS = '@cache/redis redisStore.get';
/** The raw limit: concurrent gets of one tick coalesced into one MGET, JSON.parse per value. */
export const MGET_LIMIT = 'ioredis MGET per tick + JSON.parse (limit)';
/** keyv 5 with @keyv/redis. */
export const KEYV = 'keyv + @keyv/redis';

/**
 * Runs `n` gets spread over {@link CALLERS} callers that each await one get before the next,
 * as the concurrent requests of a server would.
 */
function concurrentLoop(op: (key: string) => Promise<unknown>, keys: string[]): Run {
  const order = uniformOrder(keys.length);
  const mask = order.length - 1;
  return (n, start) => {
    const perCaller = Math.ceil(n / CALLERS);
    const callers: Promise<void>[] = [];
    for (let c = 0; c < CALLERS; c++) {
      callers.push(
        (async () => {
          const from = start + c * perCaller;
          for (let i = 0; i < perCaller; i++) await op(keys[order[(from + i) & mask]!]!);
        })(),
      );
    }
    return Promise.all(callers);
  };
}

/** The hand-written limit: the gets of one tick as one MGET, values parsed with JSON. */
export function mgetPerTick(client: Redis): (key: string) => Promise<unknown> {
  let keys: string[] = [];
  let waiters: ((text: string | null) => void)[] = [];
  const flush = () => {
    const batchKeys = keys;
    const batch = waiters;
    keys = [];
    waiters = [];
    void client.mget(batchKeys).then((texts) => {
      for (let i = 0; i < batch.length; i++) batch[i]!(texts[i]!);
    });
  };
  return (key) =>
    new Promise((resolve) => {
      if (keys.push(key) === 1) process.nextTick(flush);
      waiters.push((text) => resolve(text === null ? undefined : JSON.parse(text)));
    });
}

/**
 * Network round trips and a redis-server sharing the machine's two cores make these runs noisier
 * than in-process ones: take the median of at least 9 rounds, in batches of at most 20k gets.
 */
function redisMethod(method: Method): Method {
  return { ...method, rounds: Math.max(method.rounds, 9), batch: Math.min(method.batch, 20_000) };
}

/** A JSON document of about 100 bytes. */
function jsonValue(i: number) {
  return {
    id: i,
    name: `User number ${i}`,
    email: `user${i}@example.com`,
    roles: ['reader', 'writer'],
    active: i % 2 === 0,
  };
}

/**
 * (e) Redis `get` with {@link CALLERS} concurrent callers, ~100 B JSON values, 10k keys, every
 * get a hit, on a redis-server this bench starts on a free port (never 6379). Every contender
 * writes the keys in its own format first and checks that it reads them back.
 */
export async function redisGet(method: Method): Promise<{ results: Result[]; redis: string }> {
  const server = await startRedis();
  const connect = () => new Redis(server.port);
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
  const expiresAt = Date.now() + TTL;

  const raw = connect();
  const pipelined = new Redis(server.port, { enableAutoPipelining: true });
  await raw.mset(keys.flatMap((key, i) => [`raw:${key}`, JSON.stringify(jsonValue(i))]));

  const ours = redisStore({ port: server.port, prefix: 'ours:' });
  await ours.setMany(keys.map((key, i) => [key, { value: jsonValue(i), expiresAt }]));

  const keyv = new Keyv({ store: new KeyvRedis(server.url), namespace: 'keyv' });
  for (const [i, key] of keys.entries()) await keyv.set(key, jsonValue(i), TTL);

  const bentoClient = connect();
  const bento = new BentoCache({
    default: 'redis',
    stores: { redis: bentostore().useL2Layer(redisDriver({ connection: bentoClient })) },
  });
  for (const [i, key] of keys.entries()) await bento.set({ key, value: jsonValue(i), ttl: TTL });

  const rawGet = (key: string) =>
    raw.get(`raw:${key}`).then((text) => (text === null ? undefined : JSON.parse(text)));
  const pipelinedGet = (key: string) =>
    pipelined.get(`raw:${key}`).then((text) => (text === null ? undefined : JSON.parse(text)));
  const mgetClient = connect();
  const mget = mgetPerTick(mgetClient);
  const ops: [string, (key: string) => Promise<unknown>][] = [
    [MGET_LIMIT, (key) => mget(`raw:${key}`)],
    [REDIS_OURS, (key) => ours.get(key)],
    ['ioredis GET + JSON.parse', rawGet],
    ['ioredis GET, enableAutoPipelining', pipelinedGet],
    [KEYV, (key) => keyv.get(key)],
    ['bentocache (L2 only)', (key) => bento.get({ key })],
  ];
  try {
    for (const [name, op] of ops) {
      for (const [i, key] of keys.slice(0, 100).entries()) {
        // Our store answers with the entry: its value is what the others answer.
        const answer = (await op(key)) as { id?: number; value?: { id: number } } | undefined;
        if ((answer?.value ?? answer)?.id !== i) throw new Error(`${name} answered ${key} wrongly`);
      }
    }
    const contenders: Contender[] = ops.map(([name, op]) => ({
      name,
      run: concurrentLoop(op, keys),
    }));
    const redis = /redis_version:(\S+)/.exec(await raw.info('server'))?.[1] ?? '?';
    const results = await measure(contenders, redisMethod(method));
    return { results, redis };
  } finally {
    await Promise.allSettled([ours.close(), keyv.disconnect(), bento.disconnectAll()]);
    for (const client of [raw, pipelined, mgetClient, bentoClient]) client.disconnect();
    await server.stop();
  }
}

function versionOf(name: string): string {
  const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** (e) as a markdown section: the table, then our ratios against the targets of PERFORMANCE.md. */
export async function redisTable(method: Method): Promise<string> {
  const { results, redis } = await redisGet(method);
  const check = (reference: string, target: number) => {
    const value = ratio(results, REDIS_OURS, reference);
    return `ours / ${reference} = ${value.toFixed(2)} (target ≥ ${target}: ${value >= target ? 'met' : 'MISSED'})`;
  };
  const versions = ['ioredis', 'keyv', '@keyv/redis', 'bentocache']
    .map((name) => `${name} ${versionOf(name)}`)
    .join(', ');
  return [
    `### (e) Redis get, ${CALLERS} concurrent callers, ~100 B JSON values, ${KEYS / 1000}k keys, all hits`,
    `redis-server ${redis} on loopback (started by the bench); ${versions}; median of ${redisMethod(method).rounds} rounds of ${method.runMs} ms`,
    rateTable(results, MGET_LIMIT, 'vs MGET limit'),
    `${check(KEYV, 2.5)}; ${check(MGET_LIMIT, 0.8)}`,
  ].join('\n\n');
}

/**
 * (f) The same workload on a 3-master Cluster this bench starts: our per-slot batching
 * (pipelined per master) against ioredis' Cluster client, plain and with auto-pipelining.
 */
export async function redisClusterTable(method: Method): Promise<string> {
  const cluster = await startRedisCluster();
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
  const plain = new Cluster(cluster.nodes);
  const pipelined = new Cluster(cluster.nodes, { enableAutoPipelining: true });
  const ours = redisStore({ client: new Cluster(cluster.nodes), prefix: 'ours:' });
  try {
    await ours.setMany(
      keys.map((key, i) => [key, { value: jsonValue(i), expiresAt: Date.now() + TTL }]),
    );
    await Promise.all(
      keys.map((key, i) => pipelined.set(`raw:${key}`, JSON.stringify(jsonValue(i)))),
    );
    const parsed = (text: string | null) => (text === null ? undefined : JSON.parse(text));
    const ops: [string, (key: string) => Promise<unknown>][] = [
      [
        'ioredis Cluster GET, enableAutoPipelining',
        (key) => pipelined.get(`raw:${key}`).then(parsed),
      ],
      [`${REDIS_OURS} on the Cluster`, (key) => ours.get(key)],
      ['ioredis Cluster GET', (key) => plain.get(`raw:${key}`).then(parsed)],
    ];
    const contenders: Contender[] = ops.map(([name, op]) => ({
      name,
      run: concurrentLoop(op, keys),
    }));
    const results = await measure(contenders, redisMethod(method));
    return [
      `### (f) Redis get on a 3-master Cluster, ${CALLERS} concurrent callers, ~100 B JSON values, ${KEYS / 1000}k keys, all hits`,
      `median of ${redisMethod(method).rounds} rounds of ${method.runMs} ms`,
      rateTable(results, results[0]!.name, 'vs auto-pipelining'),
    ].join('\n\n');
  } finally {
    const client = ours.client;
    await ours.close();
    for (const each of [plain, pipelined, client]) each.disconnect();
    await cluster.stop();
  }
}
