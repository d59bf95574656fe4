-- Change a loaded sale's cached stock by a delta, or its paused flag, never leaving stock_left below zero.
-- KEYS: 1 meta   ARGV: 1 stock delta  2 paused ('' = unchanged, '0' or '1')  3 notify channel
-- Returns {code, stock_left}: 'ok', 'not_loaded' or 'below_sold'.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded', -1} end
local delta = tonumber(ARGV[1])
local left = tonumber(redis.call('HGET', KEYS[1], 'stock_left'))
if left + delta < 0 then return {'below_sold', left} end
if delta ~= 0 then left = redis.call('HINCRBY', KEYS[1], 'stock_left', delta) end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'paused', ARGV[2]) end
redis.call('PUBLISH', ARGV[3], redis.call('HGET', KEYS[1], 'sale') .. ':changed')
return {'ok', left}
