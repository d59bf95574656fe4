-- Renew (or release) a node-id lease only while we still hold it (compare-and-set on the token).
-- A released node is not freed at once: it stays taken ('released:<last ms minted>') for ARGV[3] ms, so a
-- process whose clock lags cannot take it and mint ids the last holder already minted.
-- KEYS: 1 lease   ARGV: 1 token  2 lease ms (0 = release)  3 on release: how long the node stays taken (ms)
--       4 on release: the last millisecond the holder minted in
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) == 0 then
  redis.call('SET', KEYS[1], 'released:' .. ARGV[4], 'PX', ARGV[3])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
