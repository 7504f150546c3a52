// `pnpm --filter @cache-tooling/bench bench:invalidation`: tag invalidation of 10,000 keys across
// two processes, each a memory L1 over one Redis L2 with the Redis bus (the nodes of
// @cache/multilevel's cross-process tests). A writes 10k keys tagged 'catalog', B reads them all
// (into its L1), A calls invalidateTags(['catalog']); measured: how long that call takes, when
// the bus message reaches B, and when B serves none of the keys any more, with B idle and with
// B reading all 10k in a loop. INV_ROUNDS (default 7) rounds; the median, min and max.

import { startRedis } from '@cache-tooling/redis-server';
import {
  type InvalidationNode,
  startNode,
} from '../../../packages/multilevel/test/fixtures/nodes.js';
import { table } from './harness.js';

const COUNT = 10_000;
const ROUNDS = Number(process.env.INV_ROUNDS ?? 7);

interface Timing {
  ms: number;
  served: number;
}

const tagRecordDeleted = (m: { type: string; keys?: string[] }) =>
  m.type === 'delete' && (m.keys ?? []).includes('__cache:tag:catalog');

async function readAll(node: InvalidationNode, expected: number): Promise<number> {
  const { ms, served } = await node.send<Timing>({ cmd: 'countServed', count: COUNT });
  if (served !== expected) throw new Error(`expected ${expected} served, got ${served}`);
  return ms;
}

/** One round; B reads in a loop while A invalidates when `busy`. */
async function round(a: InvalidationNode, b: InvalidationNode, busy: boolean) {
  await a.send({ cmd: 'setItems', count: COUNT, tag: 'catalog' });
  await readAll(b, COUNT); // backfills B's L1
  const readTagged = await readAll(b, COUNT);
  const heard = b.received(tagRecordDeleted);
  const gone = busy
    ? b.send<{ at: number }>({ cmd: 'pollUntilNoneServed', count: COUNT })
    : undefined;
  const { start, ms } = await a.send<{ start: number; ms: number }>({
    cmd: 'invalidateTags',
    tags: ['catalog'],
  });
  const { at: heardAt } = await heard;
  const goneAt = gone === undefined ? undefined : (await gone).at;
  const reread = await readAll(b, 0);
  return {
    invalidateTags: ms,
    busReachedB: heardAt - start,
    noneServed: goneAt === undefined ? Number.NaN : goneAt - start,
    readTagged,
    reread,
  };
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  return [ms(sorted[Math.floor(sorted.length / 2)]!), ms(sorted[0]!), ms(sorted.at(-1)!)];
};

const server = await startRedis();
const [a, b] = await Promise.all([startNode(server.port), startNode(server.port)]);
try {
  await a.send({ cmd: 'setItems', count: COUNT });
  await readAll(b, COUNT);
  const untagged: number[] = [];
  for (let i = 0; i < ROUNDS; i++) untagged.push(await readAll(b, COUNT));
  await a.send({ cmd: 'setItems', count: COUNT, tag: 'never-invalidated' });
  await readAll(b, COUNT);
  const neverInvalidated: number[] = [];
  for (let i = 0; i < ROUNDS; i++) neverInvalidated.push(await readAll(b, COUNT));
  const rows: string[][] = [
    ['B reads 10k untagged keys from its L1 (getMany)', ...stats(untagged)],
    ['B reads 10k keys from its L1, tag never invalidated', ...stats(neverInvalidated)],
  ];
  for (const busy of [false, true]) {
    const results: Awaited<ReturnType<typeof round>>[] = [];
    for (let i = 0; i < ROUNDS; i++) results.push(await round(a, b, busy));
    const column = (name: keyof (typeof results)[number]) => results.map((r) => r[name]);
    const when = busy ? 'B reading all 10k in a loop' : 'B idle';
    if (!busy) {
      rows.push([
        'B reads 10k keys from its L1, tag invalidated before',
        ...stats(column('readTagged')),
      ]);
    }
    rows.push(
      [`invalidateTags(['catalog']) in A (${when})`, ...stats(column('invalidateTags'))],
      [`bus message reaches B (${when})`, ...stats(column('busReachedB'))],
    );
    if (busy) rows.push([`B serves none of the 10k (${when})`, ...stats(column('noneServed'))]);
    if (!busy) rows.push(['B re-reads the 10k: 0 served', ...stats(column('reread'))]);
  }
  console.log(
    `Tag invalidation of ${COUNT} keys across 2 processes (memory L1 + Redis L2 + Redis bus), ${ROUNDS} rounds; times from the start of invalidateTags\n`,
  );
  console.log(table(['', 'median', 'min', 'max'], rows));
} finally {
  a.child.kill();
  b.child.kill();
  await server.stop();
}
