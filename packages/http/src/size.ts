import type { CacheEntry } from '@cache/core';

/**
 * The bytes an entry of `@cache/http` takes in memory, near enough: its body, its headers and its
 * key. Give it to a size-aware store to bound the cache by bytes rather than by count, so that
 * cache-busting URLs with large bodies cannot grow memory without limit:
 * `memoryStore({ maxSize: 64 * 1024 ** 2, sizeOf: responseSize })`.
 */
export function responseSize(entry: CacheEntry, key: string): number {
  let size = OVERHEAD + key.length;
  const value = entry.value as { body?: unknown; headers?: unknown } | null;
  if (value === null || typeof value !== 'object') return size;
  if (value.body instanceof Uint8Array) size += value.body.byteLength;
  if (value.headers !== null && typeof value.headers === 'object') {
    for (const [name, header] of Object.entries(value.headers)) {
      size += name.length + String(header).length;
    }
  }
  return size;
}

// The fixed cost of an entry: its object, its timestamps, its key in the store's map.
const OVERHEAD = 256;
