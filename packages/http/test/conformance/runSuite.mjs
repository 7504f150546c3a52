// Runs the http-cache-tests client against one base URL and prints its results as JSON: run in a
// child process per proxy, because the client keeps its results in module state.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('http-cache-tests/package.json'));
const load = (path) => import(pathToFileURL(join(root, path)).href);
const fetch = createRequire(join(root, 'package.json'))('node-fetch');
const { runTests, getResults } = await load('client/runner.mjs');
const { default: tests } = await load('tests/index.mjs');

await runTests(tests, fetch, false, process.argv[2]);
process.stdout.write(JSON.stringify(getResults()));
