-- Reserve stock for one purchase, atomically, against Redis' own clock.
-- Checks, in the contract's order: idempotent replay, loaded, window, paused, sold out, rate limits,
-- orders placed and per-user limit, stock, hand-off backlog. On success it takes the stock, records the
-- reservation and appends the order to the sale's hand-off stream in the same step, so the 202 is as durable
-- as Redis. Every write is O(1) and what a user leaves behind is bounded: the order writer drops the record
-- and the pending entry once the order is in the database, and `placed` caps the orders one user may place.
--
-- KEYS: 1 meta  2 users  3 idem  4 res  5 handoff  6 rate  7 placed  8 the user's pending set
--       9 fenced (order ids settled after a lost reply: lua/settle.lua)
-- ARGV: 1 user  2 quantity  3 order_id  4 idempotency key ('' for none)  5 per-user rate (0 = off)
--       6 client address ('' for none)  7 per-address rate (0 = off)  8 backlog cap (0 = none)
--       9 channel that hears when the sale sells out  10 orders one user may place (0 = no cap; never
--       below the sale's per-user limit)
-- Returns {code, value, now_ms}; code 'collision': the order id names another purchase, nothing was reserved.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local user, qty, key = ARGV[1], tonumber(ARGV[2]), ARGV[4]

if key ~= '' then
  local seen = redis.call('HGET', KEYS[3], user .. '|' .. key)
  if seen then
    local sep = string.find(seen, '|', 1, true)
    if tonumber(string.sub(seen, sep + 1)) ~= qty then
      return {'reused', '', now}
    end
    return {'replay', string.sub(seen, 1, sep - 1), now}
  end
end

-- A fenced id: a purchase under it lost its reply and was settled (lua/settle.lua); nothing may take it now.
if redis.call('SISMEMBER', KEYS[9], ARGV[3]) == 1 then return {'fenced', '', now} end
-- The order id is already recorded: the same call again (a retry after a lost reply) must not reserve twice,
-- and another purchase under that id (two processes minting on one node) must not be answered 'ok' either.
local prior = redis.call('HGET', KEYS[4], ARGV[3])
if prior then
  local r = cjson.decode(prior)
  if r.u == user and tonumber(r.q) == qty then return {'ok', ARGV[3], now} end
  return {'collision', '', now}
end

local m = redis.call('HMGET', KEYS[1], 'start_ms', 'end_ms', 'paused', 'stock_left', 'limit', 'price',
  'timeout_s', 'epoch', 'sale', 'keep_until')
if not m[1] then
  return {'not_loaded', '', now}
end
if now >= tonumber(m[2]) then return {'ended', '', now} end
if now < tonumber(m[1]) then return {'not_started', '', now} end
if m[3] == '1' then return {'paused', '', now} end
local left = tonumber(m[4])
if left <= 0 then return {'sold_out', m[2], now} end

local sec = tostring(math.floor(now / 1000))
local function over_rate(field, limit)
  if limit <= 0 then return false end
  local cur = redis.call('HGET', KEYS[6], field)
  local count = 0
  if cur then
    local sep = string.find(cur, ':', 1, true)
    if string.sub(cur, 1, sep - 1) == sec then count = tonumber(string.sub(cur, sep + 1)) end
  end
  if count >= limit then return true end
  redis.call('HSET', KEYS[6], field, sec .. ':' .. (count + 1))
  return false
end
if over_rate('u|' .. user, tonumber(ARGV[5])) then return {'rate_limited', 'user', now} end
if ARGV[6] ~= '' and over_rate('a|' .. ARGV[6], tonumber(ARGV[7])) then return {'rate_limited', 'address', now} end

local cap = tonumber(ARGV[10])
if cap > 0 then
  local placed = tonumber(redis.call('HGET', KEYS[7], user) or '0')
  if placed >= math.max(cap, tonumber(m[5])) then return {'too_many_orders', tostring(placed), now} end
end
local held = tonumber(redis.call('HGET', KEYS[2], user) or '0')
if held + qty > tonumber(m[5]) then return {'limit_exceeded', tostring(held), now} end
if left < qty then return {'insufficient_stock', tostring(left), now} end
local backlog = tonumber(ARGV[8])
if backlog > 0 and redis.call('XLEN', KEYS[5]) >= backlog then return {'backlog', '', now} end

local order_id = ARGV[3]
local amount = tonumber(m[6]) * qty
local expires = now + tonumber(m[7]) * 1000
local record = cjson.encode({o = order_id, s = m[9], u = user, q = qty, a = amount, c = now, x = expires,
  e = m[8], k = key})
left = redis.call('HINCRBY', KEYS[1], 'stock_left', -qty)
redis.call('HINCRBY', KEYS[2], user, qty)
if key ~= '' then redis.call('HSET', KEYS[3], user .. '|' .. key, order_id .. '|' .. qty) end
redis.call('HSET', KEYS[4], order_id, record)
redis.call('HINCRBY', KEYS[7], user, 1)
redis.call('SADD', KEYS[8], order_id)
if m[10] then redis.call('PEXPIREAT', KEYS[8], m[10]) end
redis.call('XADD', KEYS[5], '*', 'r', record)
if left == 0 then redis.call('PUBLISH', ARGV[9], m[9] .. ':sold_out:' .. m[2]) end
return {'ok', order_id, now}
