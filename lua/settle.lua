-- Settle a reservation whose reply was lost: its record if it has one; otherwise fence its order id, so the
-- reservation call, should it still arrive (it may sit in a socket buffer or a batch on its way), finds the
-- fence and reserves nothing. Either way the purchase's outcome is decided once this returns.
-- KEYS: 1 meta  2 res  3 fenced (set of order ids no reservation may take)
-- ARGV: 1 order_id  2 how long (ms) a fence lasts when the sale has no keep_until (not loaded)
-- Returns the record, or false once the order id is fenced.
local record = redis.call('HGET', KEYS[2], ARGV[1])
if record then return record end
redis.call('SADD', KEYS[3], ARGV[1])
local keep = redis.call('HGET', KEYS[1], 'keep_until')
if keep then redis.call('PEXPIREAT', KEYS[3], keep) else redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return false
