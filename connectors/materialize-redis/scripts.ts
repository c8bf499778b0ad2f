/**
 * Server-side Lua scripts. Redis runs a script atomically: no other client
 * sees part of it, which is what makes a chunk's writes and its progress
 * marker land together.
 */
import type { Redis } from "ioredis";

/**
 * Lua that writes the records of a decoded chunk `items` (chunk.ts) to
 * their targets. A chunk of plain SETs (second element "M") goes to MSET as
 * it was decoded, 1,000 pairs per call (Lua's unpack has a stack limit).
 * In a general chunk, runs of plain SETs become one MSET (keys are unique
 * within a transaction, and a run is flushed before any other op, so order
 * holds).
 * Stream entries get the id `stamp-<record index>` when `stamp` is set:
 * if the stream already has an entry with exactly that id, it was written
 * before and is skipped; a stream whose last id is beyond ours for any other
 * reason is an error. Without a stamp, Redis assigns ids.
 */
const WRITE_ITEMS = `
local function write_items(items, stamp)
  local n = #items
  if items[2] == 'M' then
    for s = 3, n, 2000 do
      redis.call('MSET', unpack(items, s, math.min(s + 1999, n)))
    end
    return (n - 2) / 2
  end
  local first = tonumber(items[1])
  local mset, m = {}, 0
  local function flush()
    if m > 0 then
      redis.call('MSET', unpack(mset, 1, m))
      mset, m = {}, 0
    end
  end
  for i = 2, n, 3 do
    local op, key, payload = items[i], items[i + 1], items[i + 2]
    if op == 'S' then
      mset[m + 1] = key
      mset[m + 2] = payload
      m = m + 2
      if m >= 2000 then flush() end
    else
      flush()
      local kind = string.sub(op, 1, 1)
      local ttl = string.sub(op, 2)
      if kind == 'S' then
        redis.call('SET', key, payload, 'EX', ttl)
      elseif kind == 'D' then
        redis.call('DEL', key)
      elseif kind == 'H' then
        redis.call('DEL', key)
        local fv = cjson.decode(payload)
        if #fv > 0 then
          redis.call('HSET', key, unpack(fv))
          if ttl ~= '' then redis.call('EXPIRE', key, ttl) end
        end
      elseif kind == 'X' then
        local fv = cjson.decode(payload)
        if stamp then
          local id = stamp .. '-' .. tostring(first + (i - 2) / 3)
          local r = redis.pcall('XADD', key, id, unpack(fv))
          if type(r) == 'table' and r.err then
            -- Only an entry with exactly this id proves it was written before;
            -- a later id from another writer must not make us drop the entry.
            if not string.find(r.err, 'equal or smaller', 1, true) or #redis.call('XRANGE', key, id, id) == 0 then
              return redis.error_reply('XADD ' .. key .. ' ' .. id .. ': ' .. r.err)
            end
          end
        else
          redis.call('XADD', key, '*', unpack(fv))
        end
      else
        return redis.error_reply('unknown staged op ' .. op)
      end
    end
  end
  flush()
  return (n - 1) / 3
end
`;

/**
 * Applies chunk ARGV[1] of a staged transaction (exactly-once delivery).
 *   KEYS[1] the stage: a list of MessagePack chunks (chunk.ts)
 *   KEYS[2] the progress marker: index of the last chunk applied
 *   ARGV[1] chunk index, ARGV[2] the transaction's stamp
 * Returns the number of records applied, 0 when the chunk was applied
 * before, -1 when the stage no longer exists. A chunk whose predecessor is
 * not applied is refused, so a pipelined apply never leaves a hole when an
 * earlier chunk failed.
 */
const APPLY_CHUNK = `${WRITE_ITEMS}
local stage, marker = KEYS[1], KEYS[2]
local chunk = tonumber(ARGV[1])
local done = tonumber(redis.call('GET', marker) or '-1')
if done >= chunk then return 0 end
if redis.call('EXISTS', stage) == 0 then return -1 end
if done ~= chunk - 1 then return redis.error_reply('chunk ' .. chunk .. ' of ' .. stage .. ' follows unapplied chunk ' .. (done + 1)) end
local blob = redis.call('LINDEX', stage, chunk)
if not blob then return redis.error_reply('chunk ' .. chunk .. ' of ' .. stage .. ' is missing') end
local n = write_items(cmsgpack.unpack(blob), ARGV[2])
if type(n) ~= 'number' then return n end
redis.call('SET', marker, chunk)
return n
`;

/** Writes the chunk ARGV[1] straight to its targets (at-least-once delivery). */
const WRITE_CHUNK = `${WRITE_ITEMS}
return write_items(cmsgpack.unpack(ARGV[1]), nil)
`;

/**
 * Allocates a transaction stamp: milliseconds of the server's clock, but
 * always greater than the previous stamp of the same counter, so stamps
 * increase across sessions even if the clock steps back.
 */
const NEXT_STAMP = `
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if ms <= last then ms = last + 1 end
redis.call('SET', KEYS[1], string.format('%d', ms))
return string.format('%d', ms)
`;

export interface ScriptedRedis extends Redis {
  flowApplyChunk(stage: string, marker: string, chunk: number, stamp: string): Promise<number>;
  flowWriteChunk(chunk: Buffer): Promise<number>;
  flowNextStamp(counter: string): Promise<string>;
}

/** Registers the scripts as commands; ioredis sends EVALSHA and falls back to EVAL once. */
export function withScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand("flowApplyChunk", { numberOfKeys: 2, lua: APPLY_CHUNK });
  redis.defineCommand("flowWriteChunk", { numberOfKeys: 0, lua: WRITE_CHUNK });
  redis.defineCommand("flowNextStamp", { numberOfKeys: 1, lua: NEXT_STAMP });
  return redis as ScriptedRedis;
}
