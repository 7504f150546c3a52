import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** An article of the blog. */
export interface Article {
  slug: string;
  title: string;
  body: string;
}

/**
 * The data source: a JSON file on disk, with the latency of a remote database added. `down`
 * makes every read fail, as an outage would.
 */
export class ArticleStore {
  /** How many times the file was read: what the cache saves. */
  reads = 0;
  /** While true, reads throw. */
  down = false;

  constructor(
    readonly file: string,
    readonly latencyMs = 150,
  ) {}

  async all(): Promise<Article[]> {
    await sleep(this.latencyMs);
    if (this.down) throw new Error('the article database is unreachable');
    this.reads++;
    return JSON.parse(await readFile(this.file, 'utf8')) as Article[];
  }

  async bySlug(slug: string): Promise<Article | undefined> {
    return (await this.all()).find((article) => article.slug === slug);
  }

  /** The raw file as a stream, for the export endpoint. */
  async export(): Promise<Readable> {
    await sleep(this.latencyMs);
    this.reads++;
    return createReadStream(this.file);
  }

  /** Renames article `slug`; returns it, or undefined if there is none. */
  async retitle(slug: string, title: string): Promise<Article | undefined> {
    const articles = await this.all();
    const article = articles.find((a) => a.slug === slug);
    if (article === undefined) return undefined;
    article.title = title;
    await writeFile(this.file, `${JSON.stringify(articles, null, 2)}\n`);
    return article;
  }
}
