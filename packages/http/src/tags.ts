import { randomBytes } from 'node:crypto';
import { type Cache, CacheError } from '@cache/core';

/**
 * How stored responses follow tag invalidation. @internal
 *
 * Each tag has a generation token stored in the cache and the tokens of a route's tags are folded
 * into its response keys, so invalidating a tag is one write, holds across processes sharing a
 * store, and a response loaded while its tag is invalidated lands under the old generation, never
 * to be read. Stored responses also carry their tags, and invalidating here calls core's
 * `invalidateTags()` too, so core's tag records agree. Delegating entirely to core (a
 * `generation` of `''`) needs the response written with its load's start as `createdAt`.
 */
export interface TagIndex {
  /** A string that changes whenever one of `tags` is invalidated; `''` for no tags. */
  generation(tags: readonly string[]): Promise<string>;
  /** Makes every response stored under one of `tags` unreachable. Rejects when the store failed. */
  invalidate(tags: readonly string[]): Promise<void>;
}

// Generation tokens outlive any response; one that is lost (evicted, expired) is simply replaced,
// which only turns the responses stored under it into misses.
const TOKEN_TTL = '30d';

/** A {@link TagIndex} that keeps one generation token per tag under `t:<tag>` in `cache`. @internal */
export function generationTags(cache: Cache): TagIndex {
  const keyOf = (tag: string) => `t:${tag}`;
  // Resolves the new token whether or not the store took it: a request that cannot record a
  // generation uses a fresh one of its own, which can only miss.
  const renew = async (key: string): Promise<[token: string, stored: boolean]> => {
    const token = randomBytes(9).toString('base64url');
    return [token, await cache.set(key, token, { ttl: TOKEN_TTL, grace: false })];
  };
  return {
    async generation(tags) {
      if (tags.length === 0) return '';
      const tokens = await cache.getMany<string>(tags.map(keyOf));
      // A tag never seen (or whose token was lost) starts a new generation: never an old one.
      await Promise.all(
        tokens.map(async (token, i) => {
          if (typeof token !== 'string') [tokens[i]] = await renew(keyOf(tags[i]!));
        }),
      );
      return `\n#${tokens.join(',')}`;
    },
    async invalidate(tags) {
      const [results, voided] = await Promise.all([
        Promise.all(tags.map((tag) => renew(keyOf(tag)))),
        // Core's own tag records too, so that readers of the tags through core agree.
        cache.invalidateTags([...tags]),
      ]);
      const failed = tags.filter((_, i) => !results[i]![1] || !voided);
      if (failed.length > 0) {
        throw new CacheError(
          'E_INVALIDATION',
          `[cache] [http] could not invalidate tags ${failed.join(', ')}: the store refused the write`,
        );
      }
    },
  };
}
