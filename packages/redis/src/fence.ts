// Fences: a load may read the database before another process updates it and store what it read
// after that process's invalidation. Every write and delete of a key leaves a fence (the Redis
// clock's time and the writer's id, `<time> <writer>`, under `<prefix>__cache:fence:<key>`, for a
// while), a clear or pattern delete one for every key (`<prefix>__cache:fence`), and a load's
// write is refused when another writer's fence stands at or after the moment its load began. A
// writer's own fences never refuse its loads: in one process, the cache's write barrier orders
// writes and loads already (a write voids the loads in flight). Each script answers the Redis
// clock's time too, so the store learns where that clock stands against its own (RedisClock).

// The Redis clock in ms since the epoch, with microseconds.
const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
`;

/**
 * A load's write. KEYS: the key, its fence, the fence of every key. ARGV: the entry's text, its
 * TTL in ms ('' for none), the Redis time its load began (at the latest), how long fences last,
 * the writer's id. Refused when another writer's fence stands at or after the load's start, or
 * when the load began longer ago than fences last (nothing can tell what happened meanwhile).
 * Answers {stored (1/0), now}.
 */
export const FENCED_SET = `${NOW}
local since = tonumber(ARGV[3])
local function fences(name)
  local fence = redis.call('GET', name)
  if not fence then return false end
  local at, writer = string.match(fence, '^(%S+) (.*)$')
  return writer ~= ARGV[5] and tonumber(at) >= since
end
local stored = 0
if now - since < tonumber(ARGV[4]) then
  if not fences(KEYS[2]) and not fences(KEYS[3]) then
    if ARGV[2] == '' then
      redis.call('SET', KEYS[1], ARGV[1])
    else
      redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    end
    stored = 1
  end
end
return {stored, string.format('%.3f', now)}`;

/**
 * A write of a key that fences it. KEYS: the key, its fence. ARGV: how long fences last, the
 * writer's id, the entry's text, its TTL in ms ('' for none). Answers {1, now}.
 */
export const FENCING_SET = `${NOW}
redis.call('SET', KEYS[2], string.format('%.3f', now) .. ' ' .. ARGV[2], 'PX', ARGV[1])
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return {1, string.format('%.3f', now)}`;

/**
 * Deletes keys and fences them. KEYS: the keys, then their fences, in the same order. ARGV: how
 * long fences last, the writer's id. Answers {how many keys existed, now}.
 */
export const FENCING_DELETE = `${NOW}
local count = #KEYS / 2
local stamp = string.format('%.3f', now) .. ' ' .. ARGV[2]
for i = 1, count do
  redis.call('SET', KEYS[count + i], stamp, 'PX', ARGV[1])
end
local removed = redis.call('UNLINK', unpack(KEYS, 1, count))
return {removed, string.format('%.3f', now)}`;

/**
 * Fences every key (around a clear or pattern delete). KEYS: the fence of every key. ARGV: how
 * long fences last, the writer's id. Answers {1, now}.
 */
export const FENCE_ALL = `${NOW}
redis.call('SET', KEYS[1], string.format('%.3f', now) .. ' ' .. ARGV[2], 'PX', ARGV[1])
return {1, string.format('%.3f', now)}`;
