import { summarize, summaryLines } from './summary.js';
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

console.log(`\n${summaryLines(summarize(steps), cache.stats(), db.queries).join('\n')}\n`);
await cache.close();
