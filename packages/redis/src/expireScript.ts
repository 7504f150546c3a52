import { LuaScript } from './luaScript.js';

/**
 * A Lua script that invalidates the entries of KEYS softly, each atomically against concurrent
 * writes: an entry with grace (a `staleUntil`) is rewritten with `expiresAt` 0 (`SOFT_EXPIRED`
 * of `@cache/core`), the rest of its text and its TTL unchanged; one without grace is removed.
 * Only the expiry at the head of the text is replaced, so the value is never decoded and
 * encoded again: in the JSON format (`[expiresAt,value,staleUntil,...]`) the number before the
 * first comma, in the serialized one (`s|expiresAt|staleUntil|...`) the field after `s|`.
 * Keys holding anything else (another type, text of another format, such as a bus's log under
 * the same prefix) are left alone. Returns how many entries of KEYS existed.
 */
export const EXPIRE = new LuaScript(
  `
local count = 0
for _, key in ipairs(KEYS) do
  local text = redis.call('TYPE', key).ok == 'string' and redis.call('GET', key)
  local head = text and string.sub(text, 1, 2)
  local graced, rewritten, undecodable
  if head == 's|' then
    local bar1 = string.find(text, '|', 3, true)
    local bar2 = bar1 and string.find(text, '|', bar1 + 1, true)
    if bar2 then
      graced = bar2 > bar1 + 1
      rewritten = 's|0' .. string.sub(text, bar1)
    end
  elseif head and string.sub(head, 1, 1) == '[' then
    local decoded, fields = pcall(cjson.decode, text)
    local comma = string.find(text, ',', 2, true)
    if decoded and comma then
      graced = fields[3] ~= nil and fields[3] ~= cjson.null
      rewritten = '[0' .. string.sub(text, comma)
    end
    undecodable = not decoded
  end
  if rewritten then
    count = count + 1
    local ttl = redis.call('PTTL', key)
    if not graced then
      redis.call('UNLINK', key)
    elseif ttl > 0 then
      redis.call('SET', key, rewritten, 'PX', ttl)
    elseif ttl == -1 then
      redis.call('SET', key, rewritten)
    end
  elseif undecodable then
    -- An entry Redis cannot decode (a lone surrogate, deep nesting): its grace is unknown, so
    -- it is invalidated hard rather than left fresh.
    count = count + 1
    redis.call('UNLINK', key)
  end
end
return count`,
  { ordered: true },
);
