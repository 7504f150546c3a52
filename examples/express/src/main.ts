import { copyFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApp } from './app.js';
import { ProductRepository } from './products.js';

// The app writes to a copy of the seed data, so that `git status` stays clean.
const seed = fileURLToPath(new URL('../data/products.json', import.meta.url));
const file = fileURLToPath(new URL('../data/products.local.json', import.meta.url));
if (!existsSync(file)) copyFileSync(seed, file);

const port = Number(process.env.PORT ?? 3000);
createApp(new ProductRepository(file)).listen(port, () => {
  const url = `http://localhost:${port}`;
  console.log(`Catalog on ${url} (data in ${file}). Try:

  curl -i ${url}/products/1                  # X-Cache: MISS, ~150 ms
  curl -i ${url}/products/1                  # X-Cache: HIT, Age
  curl -i -X POST ${url}/products/1 -H 'content-type: application/json' -d '{"price": 8}'
  curl -i ${url}/products/1                  # X-Cache: MISS again, new price
  curl -i ${url}/me/recommendations -H 'authorization: Bearer ada'   # cached for ada only
`);
});
