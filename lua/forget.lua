-- Whether the relay may forget a sale: it has ended and the payment windows of its orders have closed, and
-- nothing of it is on its way: the hand-off is empty, nothing in it is read but unacknowledged, and no
-- reservation record waits for its order to be written. Nothing can be added to the hand-off after the end:
-- the reservation script answers 'ended' by this same clock, and an ended sale is never preheated again.
-- A sale without its metadata has been unloaded (or has expired): it is forgotten like an ended one once its
-- hand-off is empty, unless its reservation hash exists without metadata, which is a preheat under way (a
-- preheat writes that hash, then names the sale as watched, then writes the metadata last).
-- With ARGV[2] == '1', a forgettable sale's empty hand-off stream (and its consumer group) is deleted too.
-- KEYS: 1 meta  2 handoff  3 res   ARGV: 1 the relay's consumer group  2 '1' to delete the stream
-- Returns 1 when the sale may be forgotten, else 0.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('HMGET', KEYS[1], 'end_ms', 'timeout_s')
if not m[1] then
  if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
elseif now < tonumber(m[1]) + tonumber(m[2]) * 1000 then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('XLEN', KEYS[2]) > 0 then return 0 end
  local pending = redis.pcall('XPENDING', KEYS[2], ARGV[1])
  if type(pending) == 'table' and tonumber(pending[1]) > 0 then return 0 end
end
local records = redis.call('HLEN', KEYS[3])
if redis.call('HEXISTS', KEYS[3], '') == 1 then records = records - 1 end
if records > 0 then return 0 end
if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
return 1
