import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/**
 * Runs `n` operations of the workload from position `start`; returns a value to keep the work
 * alive. In a worker process, `report` (when present) is called after each timed run, outside
 * the timing, and what it returns travels back with the rate (see {@link Result.extras}).
 */
export type Run = ((n: number, start: number) => unknown) & { report?: () => unknown };

/** Builds one contender in a fresh process: its data, then the batch function to time. */
export type Setup = () => Run | Promise<Run>;

/** One library under test, run in this process. */
export interface Contender {
  /** The row label. */
  name: string;
  /** Runs a batch of operations; an async contender returns a promise. */
  run: Run;
}

/** How long and how often each contender runs. */
export interface Method {
  /** Milliseconds each contender runs before the measured rounds. */
  warmupMs: number;
  /** Milliseconds of one measured run. */
  runMs: number;
  /** Measured rounds; each contender runs once per round, in rotating order. */
  rounds: number;
  /** Operations per batch (one timer reading per batch). */
  batch: number;
  /**
   * With {@link measureIsolated}: processes per contender. Each round runs every one of them for
   * `runMs / processes`, and the contender's rate for the round is their mean: how well V8
   * happened to compile a contender differs from one process to the next.
   * @default 1
   */
  processes?: number;
  /**
   * With {@link measureIsolated}: start a contender's processes one after another instead of
   * together, so that no two setups overlap (a setup that counts the commands a server ran needs
   * that).
   * @default false
   */
  setupOneByOne?: boolean;
}

/** The median ops/s of each contender, in the order given. */
export interface Result {
  name: string;
  opsPerSecond: number;
  /** The ops/s of each measured round, in round order (the same rounds for every contender). */
  samples: number[];
  /**
   * With {@link measureIsolated}: what the run's `report` returned after each measured round, one
   * per process of the contender (`undefined` where the run has no `report`).
   */
  extras?: unknown[][];
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Measures contenders in this process (fine when the work is I/O): after a warm-up, every round
 * runs each contender once for `runMs`, in an order that rotates each round; median of rounds.
 */
export async function measure(contenders: Contender[], method: Method): Promise<Result[]> {
  const positions = contenders.map(() => 0);
  const samples = contenders.map(() => [] as number[]);
  const once = async (index: number, ms: number) => {
    gc?.();
    const rate = await timed(contenders[index]!.run, ms, method.batch, positions[index]!);
    positions[index]! += Math.ceil((rate * ms) / 1000);
    return rate;
  };
  for (let i = 0; i < contenders.length; i++) await once(i, method.warmupMs);
  for (let round = 0; round < method.rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const index = (k + round) % contenders.length;
      samples[index]!.push(await once(index, method.runMs));
    }
  }
  return contenders.map((contender, i) => resultOf(contender.name, samples[i]!));
}

/**
 * Measures the contenders of `suite` (a module exporting `setups`): each one is built in its own
 * child process, so that no contender runs on a heap shaped by another (in one process the first
 * structure built is measurably faster than an identical second one), or in
 * {@link Method.processes} of them. After a warm-up, every round runs each contender once for
 * `runMs`, in an order that rotates each round, while the other processes wait; the result is
 * the median of the rounds.
 */
export async function measureIsolated(
  suite: string,
  names: string[],
  method: Method,
): Promise<Result[]> {
  const copies = method.processes ?? 1;
  const groups: ChildProcess[][] = [];
  try {
    for (const name of names) {
      if (method.setupOneByOne) {
        const group: ChildProcess[] = [];
        groups.push(group);
        for (let i = 0; i < copies; i++) group.push(await start(suite, name));
      } else {
        groups.push(await Promise.all(Array.from({ length: copies }, () => start(suite, name))));
      }
    }
    const samples = names.map(() => [] as number[]);
    const extras = names.map(() => [] as unknown[][]);
    for (const group of groups) {
      for (const worker of group) await runFor(worker, method.warmupMs, method.batch);
    }
    for (let round = 0; round < method.rounds; round++) {
      for (let k = 0; k < groups.length; k++) {
        const index = (k + round) % groups.length;
        let total = 0;
        const reports: unknown[] = [];
        for (const worker of groups[index]!) {
          const { value, extra } = await runFor(worker, method.runMs / copies, method.batch);
          total += value;
          reports.push(extra);
        }
        samples[index]!.push(total / copies);
        extras[index]!.push(reports);
      }
    }
    return names.map((name, i) => ({ ...resultOf(name, samples[i]!), extras: extras[i]! }));
  } finally {
    for (const worker of groups.flat()) worker.kill();
  }
}

/**
 * The factory `suite` (`<file>:<export>`, a module of this folder and one of its tables) gives
 * the row `name`: a {@link Setup}, or for probes a function returning a number.
 */
export async function factoryOf(suite: string, name: string): Promise<() => unknown> {
  const [file, exported] = suite.split(':') as [string, string];
  const module = (await import(`./${file}.js`)) as Record<string, Record<string, () => unknown>>;
  const factory = module[exported]?.[name];
  if (factory === undefined) throw new Error(`no ${exported}["${name}"] in ${file}.ts`);
  return factory;
}

/** Asks a fresh process for one number from `suite`'s `probes[name]` (such as bytes per entry). */
export async function probe(suite: string, name: string): Promise<number> {
  const worker = await start(suite, name, 'probe');
  try {
    return (await request(worker, { ms: 0, batch: 0 })).value;
  } finally {
    worker.kill();
  }
}

async function start(suite: string, name: string, mode = 'run'): Promise<ChildProcess> {
  const worker = fork(WORKER, [suite, name, mode], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await Promise.race([
    once(worker, 'message'),
    once(worker, 'exit').then(([code]) => {
      throw new Error(`${suite} ${name} exited with ${code} during setup`);
    }),
  ])) as [{ ready: true }];
  if (!message.ready) throw new Error(`${suite} ${name} did not start`);
  return worker;
}

function runFor(worker: ChildProcess, ms: number, batch: number) {
  return request(worker, { ms, batch });
}

async function request(
  worker: ChildProcess,
  command: { ms: number; batch: number },
): Promise<{ value: number; extra?: unknown }> {
  worker.send(command);
  const [reply] = (await once(worker, 'message')) as [
    { value: number; extra?: unknown } | { error: string },
  ];
  if ('error' in reply) throw new Error(reply.error);
  return reply;
}

/** Runs batches of `run` for at least `ms`; returns operations per second. */
export async function timed(run: Run, ms: number, batch: number, from: number): Promise<number> {
  let ops = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    await run(batch, from + ops);
    ops += batch;
    elapsed = performance.now() - started;
  } while (elapsed < ms);
  return (ops / elapsed) * 1000;
}

function resultOf(name: string, samples: number[]): Result {
  return { name, opsPerSecond: median(samples), samples };
}

/**
 * How many times faster `name` ran than `reference`: the median over rounds of the two rates
 * measured in the same round. On a shared machine whose speed drifts from second to second, a
 * ratio within each round varies much less than each contender's own rate.
 */
export function ratio(results: Result[], name: string, reference: string): number {
  const of = (row: string) => {
    const result = results.find((candidate) => candidate.name === row);
    if (result === undefined) throw new Error(`no row "${row}"`);
    return result.samples;
  };
  const ours = of(name);
  const theirs = of(reference);
  return median(ours.map((rate, round) => rate / theirs[round]!));
}

/** The middle value (mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Compiles a batch loop calling `op(keys[order[i]], value)` with `new Function`, so that the call
 * site is the loop's own and V8 inlines `op` into it, as it would in an app.
 */
export function syncLoop<K, V>(
  op: (key: K, value: V) => unknown,
  keys: K[],
  order: Uint32Array,
  value?: V,
): Run {
  return compile(op, keys, order, value, '');
}

/** Like {@link syncLoop}, but awaits each operation before starting the next. */
export function asyncLoop<K>(op: (key: K) => Promise<unknown>, keys: K[], order: Uint32Array): Run {
  return compile(op, keys, order, undefined, 'await');
}

function compile(
  op: unknown,
  keys: unknown[],
  order: Uint32Array,
  value: unknown,
  wait: '' | 'await',
): Run {
  if ((order.length & (order.length - 1)) !== 0) throw new Error('order length must be 2^n');
  const factory = new Function(
    'op',
    'keys',
    'order',
    'value',
    `const mask = order.length - 1;
     return ${wait === '' ? '' : 'async '}function run(n, start) {
       let sink;
       for (let i = 0; i < n; i++) sink = ${wait} op(keys[order[(start + i) & mask]], value);
       return sink;
     };`,
  );
  return factory(op, keys, order, value) as Run;
}

/** A uniform random sequence of indexes below `range`, 2^`bits` long, the same on every run. */
export function uniformOrder(range: number, bits = 20): Uint32Array {
  const order = new Uint32Array(2 ** bits);
  let seed = 0x9e3779b9;
  for (let i = 0; i < order.length; i++) {
    // xorshift32: cheap, seeded, good enough to spread keys uniformly.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    order[i] = (seed >>> 0) % range;
  }
  return order;
}

/** Formats ops/s as `12.3 M` or `456 k`. */
export function formatRate(opsPerSecond: number): string {
  if (opsPerSecond >= 1e6) return `${(opsPerSecond / 1e6).toFixed(2)} M`;
  return `${(opsPerSecond / 1e3).toFixed(0)} k`;
}

/**
 * A markdown table of median ops/s with each row's {@link ratio} to the `reference` row, in a
 * column headed `label`.
 */
export function rateTable(results: Result[], reference: string, label = `vs ${reference}`): string {
  return table(
    ['', 'ops/s', label],
    results.map((result) => [
      result.name,
      formatRate(result.opsPerSecond),
      `${ratio(results, result.name, reference).toFixed(2)}×`,
    ]),
  );
}

/** A markdown table. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
