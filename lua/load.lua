-- Finish a preheat: write the sale's metadata last, and only if no other preheat got there first.
-- The caller has already written the users and idempotency hashes (holding the sale's row lock).
-- KEYS: 1 meta  2..n the sale's other keys, given the expiry too
-- ARGV: 1 expire-at (ms)  2.. field, value pairs of the metadata
-- Returns 1 when loaded, 0 when the sale was already loaded.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
for i = 1, #KEYS do redis.call('PEXPIREAT', KEYS[i], ARGV[1]) end
return 1
