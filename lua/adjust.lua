-- Set a loaded sale's stock (moving its stock left by the same amount), or its paused flag, never leaving
-- stock_left below zero. Setting, not adding, makes a retried call after a lost reply change nothing more, and
-- lets the sweep set the cache from the database every second: only a real change is announced.
-- KEYS: 1 meta   ARGV: 1 stock wanted (-1 = unchanged)  2 paused ('' = unchanged, '0' or '1')  3 notify channel
-- Returns {code, stock_left}: 'ok', 'not_loaded' or 'below_sold' (then nothing changed).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded', -1} end
local m = redis.call('HMGET', KEYS[1], 'stock', 'stock_left', 'sale', 'paused')
local stock, left, wanted = tonumber(m[1]), tonumber(m[2]), tonumber(ARGV[1])
local changed = false
if wanted >= 0 and stock ~= wanted then
  if left + wanted - stock < 0 then return {'below_sold', left} end
  left = redis.call('HINCRBY', KEYS[1], 'stock_left', wanted - stock)
  redis.call('HSET', KEYS[1], 'stock', wanted)
  changed = true
end
if ARGV[2] ~= '' and ARGV[2] ~= m[4] then
  redis.call('HSET', KEYS[1], 'paused', ARGV[2])
  changed = true
end
if changed then redis.call('PUBLISH', ARGV[3], m[3] .. ':changed') end
return {'ok', left}
