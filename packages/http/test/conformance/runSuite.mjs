// Runs the http-cache-tests client against one base URL and prints its results as JSON: run in a
// child process per proxy, because the client keeps its results in module state. The suite is the
// npm release, or the checkout of its repository that HTTP_CACHE_TESTS_DIR names.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const root =
  process.env.HTTP_CACHE_TESTS_DIR ?? dirname(require.resolve('http-cache-tests/package.json'));
const load = (path) => import(pathToFileURL(join(root, path)).href);
const { default: tests } = await load('tests/index.mjs');
if (existsSync(join(root, 'test-engine'))) {
  // The repository's layout: the client uses Node's own fetch.
  const { runTests, getResults } = await load('test-engine/client/runner.mjs');
  await runTests(tests, false, process.argv[2]);
  process.stdout.write(JSON.stringify(getResults()));
} else {
  const { runTests, getResults } = await load('client/runner.mjs');
  const fetch = createRequire(join(root, 'package.json'))('node-fetch');
  await runTests(tests, fetch, false, process.argv[2]);
  process.stdout.write(JSON.stringify(getResults()));
}
