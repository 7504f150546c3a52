import { LuaScript } from './luaScript.js';

/**
 * A Lua script that returns a stamp for tag invalidations: the Redis server's clock in ms since
 * the epoch with microseconds (`TIME`), raised above the last stamp it gave (kept in KEYS[1],
 * with a day's TTL), so stamps only grow, even if the clock steps back. One clock for every
 * process, instead of theirs. Returned as text: Lua numbers would be cut to integers.
 */
export const STAMP = new LuaScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if now <= last then now = last + 0.001 end
local text = string.format('%.3f', now)
redis.call('SET', KEYS[1], text, 'EX', 86400)
return text`);
