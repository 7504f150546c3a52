import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A product of the catalog. */
export interface Product {
  id: number;
  name: string;
  price: number;
  stock: number;
}

/**
 * The data source: a JSON file on disk, read and written on every call, with the latency of a
 * remote database added so that the cache has something to save.
 */
export class ProductRepository {
  /** How many times the file was read: what the cache saves. */
  reads = 0;

  constructor(
    readonly file: string,
    readonly latencyMs = 150,
  ) {}

  async list(): Promise<Product[]> {
    await sleep(this.latencyMs);
    this.reads++;
    return JSON.parse(await readFile(this.file, 'utf8')) as Product[];
  }

  async find(id: number): Promise<Product | undefined> {
    return (await this.list()).find((product) => product.id === id);
  }

  /**
   * Merges `changes` into product `id`: a field absent or undefined keeps its value. Returns the
   * updated product, or undefined if there is none.
   */
  async update(id: number, changes: Partial<Omit<Product, 'id'>>): Promise<Product | undefined> {
    const products = await this.list();
    const product = products.find((p) => p.id === id);
    if (product === undefined) return undefined;
    for (const [field, value] of Object.entries(changes)) {
      if (value !== undefined) Object.assign(product, { [field]: value });
    }
    await writeFile(this.file, `${JSON.stringify(products, null, 2)}\n`);
    return product;
  }
}
