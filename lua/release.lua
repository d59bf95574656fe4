-- Return one cancelled order's units to the cached stock and to the user's allowance, exactly once.
-- The `returned` set decides: a preheat seeds it with every order already cancelled when it counted the
-- stock, so a return the cache already reflects is never applied again (whatever happened in between).
-- KEYS: 1 meta  2 users  3 returned (set of order ids whose units the cache already has back)
-- ARGV: 1 order_id  2 user  3 quantity  4 notify channel
-- Returns 'ok', 'stale' (the cache is not loaded: the next preheat counts it) or 'duplicate'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'stale' end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 'duplicate' end
local qty = tonumber(ARGV[3])
redis.call('HINCRBY', KEYS[1], 'stock_left', qty)
local held = redis.call('HINCRBY', KEYS[2], ARGV[2], -qty)
if held <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
redis.call('PUBLISH', ARGV[4], redis.call('HGET', KEYS[1], 'sale') .. ':restock')
return 'ok'
