import { type CacheEntry, mergeTagRecord, type Serializer, StoreError } from '@cache/core';
import { decodeEntry, ttlOf } from './codec.js';
import type { RedisConnection } from './connection.js';
import { LuaScript } from './luaScript.js';
import { groupBySlot } from './slot.js';

/**
 * A Lua script that merges tag records into KEYS, each atomically against every other write of
 * it, as `mergeTagRecord` of `@cache/core` does: the later of the two last invalidations, the
 * later of the two last hard ones, the longer life. ARGV holds six arguments per key: the new
 * record's last stamp, its last hard stamp, `expiresAt`, `staleUntil` ('' for none), its TTL in
 * ms ('' for none), and a text ('' for none) to take for no record at all, the new record
 * having been merged with it already. A stored record in the JSON format of `codec.ts`
 * (`[expiresAt,value,staleUntil,tags,version,createdAt]`) is decoded with cjson; one in the
 * serialized format (`s|...`, written by a plain `set` under another serializer) holds its stamp
 * in the serializer's text, which Lua cannot read: the script leaves it and answers its index
 * (from 1) so that the store decodes it and tries again. Anything else under the key is no record
 * of the cache and is written over. The merged record is always written in the JSON format,
 * which every serializer's reader takes, with numbers in 17 significant digits (exact for a double).
 */
export const MERGE_TAG_RECORDS = new LuaScript(
  `
local function fmt(x)
  if x == math.huge then return '1e999' end
  return string.format('%.17g', x)
end
local left = {}
for i, key in ipairs(KEYS) do
  local base = (i - 1) * 6
  local value, hard = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  local expiresAt, staleUntil = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local ttl = ARGV[base + 5]
  local text = redis.call('TYPE', key).ok == 'string' and redis.call('GET', key)
  local merge = true
  if text and text ~= ARGV[base + 6] then
    local decoded, fields = false, nil
    if string.sub(text, 1, 1) == '[' then decoded, fields = pcall(cjson.decode, text) end
    if decoded and type(fields) == 'table' and type(fields[1]) == 'number'
        and type(fields[2]) == 'number' then
      local at = fields[2]
      local before = type(fields[6]) == 'number' and math.min(fields[6], at) or at
      local graced = type(fields[3]) == 'number'
      value = math.max(value, at)
      hard = math.max(hard, before)
      if (graced and fields[3] or fields[1]) > (staleUntil or expiresAt) then
        expiresAt = fields[1]
        staleUntil = graced and fields[3] or nil
        local pttl = redis.call('PTTL', key)
        ttl = pttl == -1 and '' or tostring(math.max(pttl, 1))
      end
    elseif string.sub(text, 1, 2) == 's|' then
      merge = false
      table.insert(left, i)
    end
  end
  if merge then
    local created = hard < value and hard or nil
    local out = '[' .. fmt(expiresAt) .. ',' .. fmt(value)
    if staleUntil or created then out = out .. ',' .. (staleUntil and fmt(staleUntil) or 'null') end
    if created then out = out .. ',null,null,' .. fmt(created) end
    out = out .. ']'
    if ttl == '' then
      redis.call('SET', key, out)
    else
      redis.call('SET', key, out, 'PX', ttl)
    end
  end
end
return left`,
  { ordered: true },
);

/** How many times a record in the serialized format is read and merged again before giving up. */
const ROUNDS = 3;

/** One record to merge: its key in Redis, the record, and the stored text it was merged with. */
interface Pending {
  redisKey: string;
  entry: CacheEntry;
  expected: string;
}

/**
 * Merges tag records into Redis with {@link MERGE_TAG_RECORDS} (one call per slot on a Cluster).
 * A record stored in the serialized format is read, decoded with `serializer` and merged here,
 * then written by the script only if it is still the text that was read, else merged again: at
 * most three rounds, then it rejects with a `StoreError`. A record already past its life is left
 * out: merged, it could only lower nothing.
 */
export async function mergeTagRecords(
  connection: RedisConnection,
  prefix: string,
  serializer: Serializer,
  records: [key: string, entry: CacheEntry][],
): Promise<void> {
  const now = Date.now();
  let pending: Pending[] = records
    .filter(([, entry]) => ttlOf(entry, now) !== 0)
    .map(([key, entry]) => ({ redisKey: prefix + key, entry, expected: '' }));
  for (let round = 0; pending.length > 0; round++) {
    if (round === ROUNDS) {
      throw new StoreError('redis', `mergeTagRecords: "${pending[0]!.redisKey}" kept changing`);
    }
    const left = await mergeOnce(connection, pending);
    if (left.length === 0) return;
    const texts = await connection.mget(left.map(({ redisKey }) => redisKey));
    pending = left.map(({ redisKey, entry }, i) => {
      const text = texts[i] ?? '';
      return { redisKey, entry: mergeTagRecord(decoded(text, serializer), entry), expected: text };
    });
  }
}

// Runs the script over `pending`, grouped by slot on a Cluster; answers what it left.
async function mergeOnce(connection: RedisConnection, pending: Pending[]): Promise<Pending[]> {
  const keys = pending.map(({ redisKey }) => redisKey);
  const groups = connection.cluster ? [...groupBySlot(keys).values()] : [pending.map((_, i) => i)];
  const now = Date.now();
  const lefts = await Promise.all(
    groups.map(async (indexes) => {
      const group = indexes.map((i) => pending[i]!);
      const args = group.flatMap(({ entry, expected }) => argumentsOf(entry, expected, now));
      const left = (await connection.run((client) =>
        MERGE_TAG_RECORDS.run(
          client,
          group.map(({ redisKey }) => redisKey),
          args,
        ),
      )) as number[];
      return left.map((index) => group[index - 1]!);
    }),
  );
  return lefts.flat();
}

// The script's six arguments for one record.
function argumentsOf(entry: CacheEntry, expected: string, now: number): string[] {
  const at = entry.value as number;
  // A record without `createdAt` is a hard invalidation's (see `recordStamps` of @cache/core).
  const hard = Math.min(at, entry.createdAt ?? at);
  const ttl = ttlOf(entry, now);
  return [
    number(at),
    number(hard),
    number(entry.expiresAt),
    entry.staleUntil === undefined ? '' : number(entry.staleUntil),
    ttl === undefined ? '' : String(Math.max(ttl, 1)),
    expected,
  ];
}

// A number as Lua's `tonumber` reads it back exactly; an endless life as cjson's infinity.
function number(value: number): string {
  return value === Number.POSITIVE_INFINITY ? '1e999' : String(value);
}

// The record a stored text holds, or none when it holds none the store can read.
function decoded(text: string, serializer: Serializer): CacheEntry | undefined {
  if (text === '') return undefined;
  try {
    return decodeEntry(text, serializer, Date.now());
  } catch {
    return undefined;
  }
}
