import { runTour } from './tour.js';

const { steps, cache, db } = await runTour();

const rows = steps.map((s) => [s.pattern, s.what, String(s.dbQueries), `${s.ms.toFixed(2)} ms`]);
const header = ['pattern', 'step', 'db queries', 'time'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;

console.log('\n@cache demo: a database that takes 40 ms per query, cached in memory\n');
console.log(line(header));
console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
for (const row of rows) console.log(line(row));

const stats = cache.stats();
const cold = steps.filter((s) => s.dbQueries > 0).map((s) => s.ms);
const warm = steps.filter((s) => s.dbQueries === 0).map((s) => s.ms);
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`
hits ${stats.hits}, misses ${stats.misses}, stale served ${stats.staleHits}, loader calls ${stats.loads}, database queries ${db.queries}
average step with a database query: ${avg(cold).toFixed(2)} ms; answered from cache: ${avg(warm).toFixed(3)} ms (${(avg(cold) / avg(warm)).toFixed(0)}x faster)
`);
await cache.close();
