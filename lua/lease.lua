-- Renew (or release) a node-id lease only while we still hold it (compare-and-set on the token).
-- KEYS: 1 lease   ARGV: 1 token  2 lease ms (0 = release)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) == 0 then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
