-- Return one cancelled order's units to the cached stock and to the user's allowance, exactly once,
-- and only while the cache is the one the database counted the order against (same epoch).
-- KEYS: 1 meta  2 users  3 returned (set of order ids already returned)
-- ARGV: 1 order_id  2 user  3 quantity  4 epoch the cancellation was counted under  5 notify channel
-- Returns 'ok', 'stale' (cache missing or another epoch: the next preheat counts it) or 'duplicate'.
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch or epoch ~= ARGV[4] then return 'stale' end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 'duplicate' end
local qty = tonumber(ARGV[3])
redis.call('HINCRBY', KEYS[1], 'stock_left', qty)
local held = redis.call('HINCRBY', KEYS[2], ARGV[2], -qty)
if held <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
redis.call('PUBLISH', ARGV[5], redis.call('HGET', KEYS[1], 'sale') .. ':restock')
return 'ok'
