-- End a loaded sale now: its end moves to the given time if that is earlier (purchases then answer `ended`).
-- A sale that is not loaded is left alone, so this never creates a half-written cache.
-- KEYS: 1 meta   ARGV: 1 end (ms)  2 notify channel
-- Returns 1 when the end moved, 0 otherwise.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local wanted = tonumber(ARGV[1])
local m = redis.call('HMGET', KEYS[1], 'end_ms', 'sale')
if tonumber(m[1]) <= wanted then return 0 end
redis.call('HSET', KEYS[1], 'end_ms', wanted)
redis.call('PUBLISH', ARGV[2], m[2] .. ':changed')
return 1
