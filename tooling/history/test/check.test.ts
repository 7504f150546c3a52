import { describe, expect, test } from 'vitest';
import { checkHistory } from '../src/check/checkHistory.js';
import { resultTable } from '../src/check/table.js';
import type { BehindWrite, Entry, Heap, Load, Nemesis, Op } from '../src/history.js';
import { checkOptions } from '../src/options.js';

// Hand-made histories, each holding one kind of violation (and its harmless twin), so the
// checker is shown to fail where it should and only there. Times are ms on the shared clock.

const options = checkOptions(50, 5_000);
const rules = (entries: Entry[]) => checkHistory(entries, options).violations.map((v) => v.rule);

const write = (
  worker: number,
  version: number,
  start: number,
  end: number,
  variant: Op['variant'] = 'delete',
): Op => ({ type: 'op', worker, f: 'write', key: 'k0', variant, start, end, ok: true, version });
const read = (worker: number, version: number | null, start: number, end = start + 1): Op => ({
  type: 'op',
  worker,
  f: 'read',
  key: 'k0',
  start,
  end,
  ok: true,
  version,
});
const load = (worker: number, lease: string | null, start: number, key = 'k0'): Load => ({
  type: 'load',
  worker,
  key,
  id: `${worker}:${start}`,
  lease,
  start,
  end: start + 200,
});

describe('stale reads', () => {
  test('a read of a version a write replaced more than the bound before is a violation', () => {
    const result = checkHistory([write(1, 1, 1000, 1010), read(2, 0, 1100)], options);
    expect(result.violations.map((v) => v.rule)).toEqual(['stale-read']);
    expect(result.stale[0]).toMatchObject({ delay: 90, phase: 'bus-up' });
  });

  test('a read within the bound of the write is stale but no violation', () => {
    const result = checkHistory([write(1, 1, 1000, 1010), read(2, 0, 1040)], options);
    expect(result.stale).toHaveLength(1);
    expect(result.violations).toEqual([]);
  });

  test('a read that started before the write resolved, or returned the new version, is fine', () => {
    expect(
      checkHistory([write(1, 1, 1000, 1010), read(2, 0, 1005), read(3, 1, 2000)], options).stale,
    ).toEqual([]);
  });

  test('a miss is never stale', () => {
    expect(rules([write(1, 1, 1000, 1010), read(2, null, 5000)])).toEqual([]);
  });

  test('a write whose cache call threw replaces nothing', () => {
    const failed: Op = { ...write(1, 1, 1000, 1010), ok: false };
    expect(rules([failed, read(2, 0, 5000)])).toEqual([]);
  });

  test('a version set by a set that raced the newer write is not stale; one set before it is', () => {
    // Both sets raced to the cache: the older one may have landed last.
    const raced = [write(1, 1, 1000, 1020, 'set'), write(2, 2, 1005, 1010, 'set')];
    expect(rules([...raced, read(3, 1, 2000)])).toEqual([]);
    const ordered = [write(1, 1, 1000, 1004, 'set'), write(2, 2, 1005, 1010, 'set')];
    expect(rules([...ordered, read(3, 1, 2000)])).toEqual(['stale-read']);
  });

  test('a version stored by a load that overlapped the write is reported as that race', () => {
    const racing = { ...load(2, 'l', 990), version: 0 };
    const [violation] = checkHistory(
      [racing, write(1, 1, 1000, 1010), read(2, 0, 2000)],
      options,
    ).violations;
    expect(violation?.entries).toContain(racing);
  });

  test('during a Redis fault a read may be stale up to the L1 TTL; after the reconnection it may not', () => {
    const fault: Nemesis = { type: 'nemesis', kind: 'redis-kill', start: 1000, end: 2000 };
    const reconnected: Entry = { type: 'reconnect', worker: 2, at: 3000 };
    const during = [fault, reconnected, write(1, 1, 500, 510), read(2, 0, 2500)];
    const result = checkHistory(during, options);
    expect(result.stale[0]?.phase).toBe('fault');
    expect(result.violations).toEqual([]);
    const after = checkHistory([...during, read(2, 0, 3100)], options);
    expect(after.stale.map((s) => s.phase)).toEqual(['fault', 'recovery']);
    expect(after.violations.map((v) => v.rule)).toEqual(['stale-read']);
  });

  test('a write made after the reader reconnected is bus-up staleness, not a missed one', () => {
    const fault: Nemesis = { type: 'nemesis', kind: 'redis-kill', start: 1000, end: 2000 };
    const entries = [fault, { type: 'reconnect', worker: 2, at: 2100 } as Entry];
    const result = checkHistory([...entries, write(1, 1, 2200, 2210), read(2, 0, 2215)], options);
    expect(result.stale[0]).toMatchObject({ phase: 'bus-up', delay: 5, violation: false });
  });

  test('a write that resolved while the reader was cut off counts from its reconnection', () => {
    const fault: Nemesis = { type: 'nemesis', kind: 'pubsub-kill', start: 1000, end: 1000 };
    const entries = [fault, { type: 'reconnect', worker: 2, at: 1500 } as Entry];
    const result = checkHistory([...entries, write(1, 1, 1000, 1200), read(2, 0, 1520)], options);
    expect(result.stale[0]).toMatchObject({ phase: 'recovery', delay: 20, violation: false });
    expect(rules([...entries, write(1, 1, 1000, 1200), read(2, 0, 1600)])).toEqual(['stale-read']);
  });

  test("a write made while its writer was cut off from Redis counts from the writer's return", () => {
    const link = (at: number, up: boolean): Entry => ({ type: 'link', worker: 1, at, up });
    const kill: Nemesis = { type: 'nemesis', kind: 'redis-kill', start: 900, end: 1450 };
    const cutOff = [kill, link(900, false), link(1500, true), write(1, 1, 1000, 1010)];
    const result = checkHistory([...cutOff, read(2, 0, 1400), read(2, 0, 1520)], options);
    expect(result.stale.map((s) => [s.phase, s.delay])).toEqual([['recovery', 20]]);
    expect(result.violations).toEqual([]);
    expect(rules([...cutOff, read(2, 0, 1600)])).toEqual(['stale-read']);
    // Cut off before the write, back before it resolved: nothing delays it.
    expect(
      rules([link(900, false), link(950, true), write(1, 1, 1000, 1010), read(2, 0, 1100)]),
    ).toEqual(['stale-read']);
  });

  test('a writer cut off from Redis and never back hides none of its writes for good', () => {
    const link = (at: number, up: boolean): Entry => ({ type: 'link', worker: 1, at, up });
    const kill: Nemesis = { type: 'nemesis', kind: 'redis-kill', start: 900, end: 1450 };
    // Redis is back at 1450; worker 1's store never is: its write waits past any reconnection.
    expect(rules([kill, link(900, false), write(1, 1, 1000, 1010), read(2, 0, 60_000)])).toEqual([
      'stale-read',
    ]);
  });

  test('a writer cut off from Redis is excused nothing for its own reads', () => {
    const link = (at: number, up: boolean): Entry => ({ type: 'link', worker: 1, at, up });
    const kill: Nemesis = { type: 'nemesis', kind: 'redis-kill', start: 900, end: 1450 };
    // Redis is back at 1450, worker 1's store at 3000: its own read at 2000 saw its old version.
    expect(
      rules([kill, link(900, false), link(3000, true), write(1, 1, 1000, 1010), read(1, 0, 2000)]),
    ).toEqual(['stale-read']);
  });

  test('a writer cut off from Redis with no Redis fault is excused nothing', () => {
    const link = (at: number, up: boolean): Entry => ({ type: 'link', worker: 1, at, up });
    // Its breaker opened on its own (a defect, or load): the write counts from its answer.
    expect(
      rules([link(900, false), link(1500, true), write(1, 1, 1000, 1010), read(2, 0, 1400)]),
    ).toEqual(['stale-read']);
  });
});

describe('loads and leases', () => {
  test('two loads under one lease are a violation; loads under their own leases are not', () => {
    expect(rules([load(1, 'a', 1000), load(1, 'a', 1300)])).toEqual(['shared-lease']);
    expect(rules([load(1, 'a', 1000), load(2, 'b', 1300), load(3, null, 1300)])).toEqual([]);
  });

  const holder: Nemesis = {
    type: 'nemesis',
    kind: 'lock-holder-kill',
    start: 10_000,
    end: 16_000,
    worker: 1,
    key: 'lock:0',
  };
  const served = (worker: number, value: string, end: number): Op => ({
    type: 'op',
    worker,
    f: 'getOrSet',
    key: 'lock:0',
    start: 9_800,
    end,
    ok: true,
    load: value,
  });

  // Survivors 2 and 3 were served the loads `values` (load ids are `<worker>:<start>`).
  const cycle = (values: [string, string], ...loads: Load[]): Entry[] => [
    holder,
    ...loads,
    served(2, values[0], 15_200),
    served(3, values[1], 15_210),
  ];

  test('a killed lock holder replaced by one load serving one value passes', () => {
    const one = load(2, 's', 15_000, 'lock:0');
    const entries = cycle(['2:15000', '2:15000'], load(1, 'h', 9_700, 'lock:0'), one);
    const result = checkHistory(entries, options);
    expect(result.violations).toEqual([]);
    expect(result.lockHolder[0]).toMatchObject({ values: ['2:15000'], maxWait: 5_210 });
  });

  test('a killed lock holder replaced by one load per survivor is a violation', () => {
    const loads = [load(2, 's', 15_000, 'lock:0'), load(3, 't', 15_300, 'lock:0')];
    const entries = cycle(['2:15000', '3:15300'], ...loads);
    expect(checkHistory(entries, options).violations[0]?.message).toMatch(/2 loads/);
  });

  test('survivors that wait past the lease plus one load are a violation', () => {
    const late = [holder, load(2, 's', 19_000, 'lock:0'), served(2, '2:19000', 19_200)];
    expect(checkHistory(late, options).violations[0]?.message).toMatch(/waited 9200 ms/);
  });
});

describe('write-behind', () => {
  const wrote = (value: number, ok = true): BehindWrite => ({
    type: 'wb',
    worker: 1,
    key: 'wb:1:0',
    value,
    start: value,
    end: value + 1,
    ok,
  });

  test('a row older than the last resolved write is stale; a missing row is lost', () => {
    expect(rules([wrote(1), wrote(2), { type: 'row', key: 'wb:1:0', value: 1 }])).toEqual([
      'write-behind-stale',
    ]);
    expect(rules([wrote(1)])).toEqual(['write-behind-lost']);
  });

  test('a row holding the last resolved write, or a newer unresolved one, is right', () => {
    expect(rules([wrote(1), wrote(2), { type: 'row', key: 'wb:1:0', value: 2 }])).toEqual([]);
    expect(rules([wrote(1), wrote(2, false), { type: 'row', key: 'wb:1:0', value: 2 }])).toEqual(
      [],
    );
    expect(rules([wrote(1), { type: 'row', key: 'wb:1:0', value: 3 }])).toEqual([]);
  });
});

describe('heap', () => {
  const samples = (from: number, step: number): Heap[] =>
    Array.from({ length: 20 }, (_, i) => ({
      type: 'heap',
      worker: 0,
      at: i * 1000,
      bytes: from + i * step,
    }));

  test('a heap that keeps growing is a violation; a flat one is not', () => {
    expect(rules(samples(10e6, 2e6))).toEqual(['heap']);
    expect(rules(samples(10e6, 10_000))).toEqual([]);
  });
});

test('the table has a row per nemesis kind with its cycles and violations', () => {
  const entries: Entry[] = [
    { type: 'nemesis', kind: 'redis-pause', start: 900, end: 950 },
    write(1, 1, 1000, 1010),
    read(2, 0, 1100),
  ];
  const table = resultTable(checkHistory(entries, options));
  expect(table).toContain('| redis-pause | 1 | 2 | 0 | 1 | 90.0 / 90.0 / 90.0 | 1 |');
  expect(table).toContain('| violations | 1 |');
});
