import { NEMESIS_KINDS, type NemesisKind } from '../history.js';
import type { CheckResult } from './checkHistory.js';
import { percentile } from './percentile.js';
import type { Phase } from './staleness.js';

const KINDS: (NemesisKind | 'none')[] = ['none', ...NEMESIS_KINDS];

const ms = (value: number) => (Number.isNaN(value) ? '–' : value.toFixed(1));
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const delays = (values: number[]) =>
  values.length === 0
    ? '–'
    : `${ms(percentile(values, 50))} / ${ms(percentile(values, 99))} / ${ms(Math.max(...values))}`;

/**
 * The result as markdown: a table by nemesis kind (each operation counts under the fault whose
 * cycle it started in: from that fault's start to the next one's; `none` before the first), a
 * table of stale reads by phase (with those over the bound that a load racing the write, or a
 * write the cache reported failed, explains; and the delays of the rest), and the whole run's
 * write-behind, lock and heap verdicts.
 */
export function resultTable(result: CheckResult): string {
  const starts = result.nemeses.map((nemesis) => nemesis.start);
  const kindAt = (at: number): NemesisKind | 'none' => {
    let found: NemesisKind | 'none' = 'none';
    for (let i = 0; i < starts.length && starts[i]! <= at; i++) found = result.nemeses[i]!.kind;
    return found;
  };
  const lines = [
    '| nemesis | cycles | ops | failed ops | stale reads | stale delay p50 / p99 / max (ms) | violations | survivor loads per killed holder | survivor max wait (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const kind of KINDS) {
    const ops = result.ops.filter((op) => kindAt(op.start) === kind);
    const stale = result.stale.filter((read) => kindAt(read.read.start) === kind);
    const cycles = result.nemeses.filter((nemesis) => nemesis.kind === kind).length;
    const holders = result.lockHolder.filter(() => kind === 'lock-holder-kill');
    const violations =
      stale.filter((read) => read.violation).length +
      holders.filter((cycle) => cycle.violation !== undefined).length;
    lines.push(
      `| ${kind} | ${kind === 'none' ? '–' : cycles} | ${ops.length} | ${ops.filter((op) => !op.ok).length} | ${stale.length} | ${delays(stale.map((read) => read.delay))} | ${violations} | ${holders.length === 0 ? '–' : holders.map((cycle) => cycle.loads.length).join(', ')} | ${holders.length === 0 ? '–' : ms(Math.max(...holders.map((cycle) => cycle.maxWait)))} |`,
    );
  }
  lines.push(
    '',
    '| stale reads by phase | count | delay p50 / p99 / max (ms) | over the bound | of which after a racing load / a failed cache write | others: count, delay p50 / p99 / max (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  const phases: [Phase, string][] = [
    ['bus-up', 'bus up'],
    ['fault', 'during a Redis/bus fault'],
    ['recovery', 'after reconnect + replay'],
  ];
  for (const [phase, label] of phases) {
    const stale = result.stale.filter((read) => read.phase === phase);
    const over = stale.filter((read) => read.violation);
    const racing = over.filter((read) => read.racingLoad !== undefined).length;
    const failed = over.filter((read) => !read.racingLoad && read.write.acknowledged === false);
    const others = stale.filter((read) => !read.racingLoad && read.write.acknowledged !== false);
    lines.push(
      `| ${label} | ${stale.length} | ${delays(stale.map((read) => read.delay))} | ${over.length} | ${racing} / ${failed.length} | ${others.length}, ${delays(others.map((read) => read.delay))} |`,
    );
  }
  const { writeBehind } = result;
  lines.push(
    '',
    '| whole run | value |',
    '| --- | ---: |',
    `| write-behind: keys / resolved writes | ${writeBehind.keys} / ${writeBehind.writes} |`,
    `| write-behind: lost rows / stale rows | ${writeBehind.lost.length} / ${writeBehind.stale.length} |`,
    `| store back after Redis, per cut-off worker and fault: p50 / p99 / max (ms) | ${delays(result.storeBack)} |`,
    `| loads sharing one lease | ${result.sharedLeases.length} |`,
    `| loads without a lease (lock timed out or failed) | ${result.unleasedLoads} |`,
    ...result.heap.map(
      (trend) =>
        `| heap after GC, worker ${trend.worker} (${trend.samples} samples): start → end (MB) | ${mb(trend.start)} → ${mb(trend.end)}${trend.grew ? ' (grew)' : ''} |`,
    ),
    `| violations | ${result.violations.length} |`,
  );
  return lines.join('\n');
}
