// Every metric the Grafana dashboard queries is one @cache/otel records, under its Prometheus name.
import { readFileSync } from 'node:fs';
import { INSTRUMENTS } from '@cache/otel';
import { expect, test } from 'vitest';

test('the dashboard queries only metrics that @cache/otel exports', () => {
  const dashboard = readFileSync(new URL('../grafana/dashboard.json', import.meta.url), 'utf8');
  // Metric names: what remains once `by (labels)` groups and `label="value"` matchers are gone.
  const queries = (JSON.parse(dashboard).panels as { targets: { expr: string }[] }[])
    .flatMap((panel) => panel.targets.map((target) => target.expr))
    .map((expr) => expr.replace(/by \([^)]*\)/g, '').replace(/[a-z_]+=~?"[^"]*"/g, ''));
  const queried = new Set(queries.flatMap((expr) => expr.match(/cache_[a-z_]+/g) ?? []));
  const exported = new Set(
    Object.values(INSTRUMENTS).flatMap(({ name }) => {
      const base = name.replaceAll('.', '_');
      return [base, `${base}_total`, `${base}_bucket`, `${base}_count`, `${base}_sum`];
    }),
  );
  expect(queried.size).toBeGreaterThan(10);
  for (const metric of queried) {
    expect(exported, metric).toContain(metric);
  }
});
