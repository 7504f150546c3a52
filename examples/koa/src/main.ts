import { copyFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApp } from './app.js';
import { ArticleStore } from './articles.js';

// The app writes to a copy of the seed data, so that `git status` stays clean.
const seed = fileURLToPath(new URL('../data/articles.json', import.meta.url));
const file = fileURLToPath(new URL('../data/articles.local.json', import.meta.url));
if (!existsSync(file)) copyFileSync(seed, file);

const port = Number(process.env.PORT ?? 3001);
createApp(new ArticleStore(file)).listen(port, () => {
  const url = `http://localhost:${port}`;
  console.log(`Blog on ${url} (data in ${file}). Try:

  curl -i ${url}/articles/why-cache          # X-Cache: MISS, ~150 ms
  curl -i ${url}/articles/why-cache          # X-Cache: HIT, Age, ETag
  curl -i ${url}/articles/why-cache -H 'if-none-match: <the ETag>'   # 304
  curl -i -X POST ${url}/articles/why-cache/title -d 'Why we cache'
  curl -i ${url}/articles/why-cache          # X-Cache: MISS again, new title
`);
});
