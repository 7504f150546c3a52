import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createApp } from '../src/app.js';
import { type Product, ProductRepository } from '../src/products.js';

let server: Server;
let url: string;
let products: ProductRepository;
const seed = JSON.parse(
  readFileSync(new URL('../data/products.json', import.meta.url), 'utf8'),
) as Product[];

beforeEach(async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'catalog-')), 'products.json');
  await copyFile(new URL('../data/products.json', import.meta.url), file);
  products = new ProductRepository(file, 5);
  server = createApp(products).listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  server.closeAllConnections();
  server.close();
});

test('a product is read from the file once, then served from the cache', async () => {
  const first = await fetch(`${url}/products/2`);
  const second = await fetch(`${url}/products/2`);
  expect(first.headers.get('x-cache')).toBe('MISS');
  expect(second.headers.get('x-cache')).toBe('HIT');
  expect((await second.json()) as any).toMatchObject({ id: 2, name: 'Pour-over kettle' });
  expect(products.reads).toBe(1);
});

test('a POST invalidates the product and the list, and the next GET reads the new price with the other fields kept', async () => {
  await fetch(`${url}/products/1`);
  await fetch(`${url}/products/2`);
  await fetch(`${url}/products`);
  const write = await fetch(`${url}/products/1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ price: 8 }),
  });
  expect(write.status).toBe(200);
  const product = await fetch(`${url}/products/1`);
  const list = await fetch(`${url}/products`);
  expect(product.headers.get('x-cache')).toBe('MISS');
  expect((await product.json()) as any).toEqual({ ...seed[0], price: 8 });
  expect(list.headers.get('x-cache')).toBe('MISS');
  expect(((await list.json()) as any)[0]).toEqual({ ...seed[0], price: 8 });
  expect((await fetch(`${url}/products/2`)).headers.get('x-cache')).toBe('HIT');
});

test('recommendations are cached per user and never shared', async () => {
  const ada = { authorization: 'Bearer ada' };
  const bob = { authorization: 'Bearer bob' };
  await fetch(`${url}/me/recommendations`, { headers: ada });
  const forBob = await fetch(`${url}/me/recommendations`, { headers: bob });
  const forAda = await fetch(`${url}/me/recommendations`, { headers: ada });
  expect(forBob.headers.get('x-cache')).toBe('MISS');
  expect(((await forBob.json()) as any).for).toBe('Bearer bob');
  expect(forAda.headers.get('x-cache')).toBe('HIT');
  expect(((await forAda.json()) as any).for).toBe('Bearer ada');
});
