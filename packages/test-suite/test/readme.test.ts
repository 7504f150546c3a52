// The README's example is a test file: it is written next to this one and imported, so that its
// storeTestSuite() registers the suite here, run against the README's own store.
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readmeExamples } from '@cache/test-suite';

const [example] = readmeExamples(fileURLToPath(new URL('../README.md', import.meta.url)));
const file = fileURLToPath(new URL(`./.readme-example-${process.pid}.ts`, import.meta.url));
writeFileSync(file, example!);
try {
  await import(file);
} finally {
  rmSync(file, { force: true });
}
