-- Settle a reservation whose reply was lost: fence its order id, so the reservation call, should it still arrive
-- (it may sit in a socket buffer or a batch on its way), finds the fence and reserves nothing, and return the
-- id's record if it has one. The fence goes on even then: the record may be another purchase's (an id minted
-- twice), dropped once written, and a late call must not take the id after it. A record of this call means it
-- ran, and it runs once. Either way the purchase's outcome is decided once this returns.
-- KEYS: 1 meta  2 res  3 fenced (set of order ids no reservation may take)
-- ARGV: 1 order_id  2 how long (ms) a fence lasts when the sale has no keep_until (not loaded)
-- Returns the record, or false (the id is fenced either way).
redis.call('SADD', KEYS[3], ARGV[1])
local keep = redis.call('HGET', KEYS[1], 'keep_until')
if keep then redis.call('PEXPIREAT', KEYS[3], keep) else redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return redis.call('HGET', KEYS[2], ARGV[1]) or false
