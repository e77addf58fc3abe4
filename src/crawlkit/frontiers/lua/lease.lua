local p = ARGV[1]
local lease, per_host = tonumber(ARGV[2]), tonumber(ARGV[3])
local delay, max_pages = tonumber(ARGV[4]), tonumber(ARGV[5])
local worker = ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', p .. 'workers', now, worker)
-- a worker not heard from for 10 s has no share
redis.call('ZREMRANGEBYSCORE', p .. 'workers', '-inf', now - 10)
local share = math.ceil(per_host / math.max(1, redis.call('ZCARD', p .. 'workers')))
local function enqueue_origin(origin)
  if redis.call('SADD', p .. 'origins_set', origin) == 1 then
    redis.call('RPUSH', p .. 'origins', origin)
  end
end
-- leases are keyed by the request's key (k): its fingerprint, unique while queued
for _, url in ipairs(redis.call('ZRANGEBYSCORE', p .. 'leases', '-inf', now)) do
  local data = redis.call('HGET', p .. 'leased', url)
  redis.call('ZREM', p .. 'leases', url)
  redis.call('HDEL', p .. 'leased', url)
  local owner = redis.call('HGET', p .. 'owner', url)
  redis.call('HDEL', p .. 'owner', url)
  if data then
    local req = cjson.decode(data)
    local prio = tostring(req['p'] or 0)
    -- back in front of its priority in its origin's queue
    redis.call('LPUSH', p .. 'q:' .. req['o'] .. ' ' .. prio, data)
    redis.call('ZADD', p .. 'qp:' .. req['o'], tonumber(prio), prio)
    redis.call('HINCRBY', p .. 'inflight', req['o'], -1)
    if owner then redis.call('HINCRBY', p .. 'mine', owner .. ' ' .. req['o'], -1) end
    if (req['a'] or 0) == 0 then redis.call('HINCRBY', p .. 'stats', 'started', -1) end
    redis.call('HINCRBY', p .. 'stats', 'reclaimed', 1)
    enqueue_origin(req['o'])
  end
end
local n = redis.call('LLEN', p .. 'origins')
for i = 1, n do
  local origin = redis.call('LMOVE', p .. 'origins', p .. 'origins', 'LEFT', 'RIGHT')
  -- the origin's queue is one list per priority; the highest comes first
  local prio = redis.call('ZREVRANGE', p .. 'qp:' .. origin, 0, 0)[1]
  local queue = prio and (p .. 'q:' .. origin .. ' ' .. prio)
  local data = queue and redis.call('LINDEX', queue, 0)
  if not data then
    redis.call('LREM', p .. 'origins', 0, origin)
    redis.call('SREM', p .. 'origins_set', origin)
  else
    local inflight = tonumber(redis.call('HGET', p .. 'inflight', origin) or '0')
    local mine = tonumber(redis.call('HGET', p .. 'mine', worker .. ' ' .. origin) or '0')
    local next_start = tonumber(redis.call('HGET', p .. 'next', origin) or '0')
    local req = cjson.decode(data)
    local fresh = (req['a'] or 0) == 0
    local started = tonumber(redis.call('HGET', p .. 'stats', 'started') or '0')
    if inflight < per_host and mine < share and now >= next_start
        and not (fresh and max_pages >= 0 and started >= max_pages) then
      redis.call('LPOP', queue)
      if redis.call('LLEN', queue) == 0 then redis.call('ZREM', p .. 'qp:' .. origin, prio) end
      redis.call('HINCRBY', p .. 'inflight', origin, 1)
      redis.call('HINCRBY', p .. 'mine', worker .. ' ' .. origin, 1)
      redis.call('HSET', p .. 'owner', req['k'], worker)
      redis.call('HSET', p .. 'next', origin, tostring(now + delay))
      if fresh then redis.call('HINCRBY', p .. 'stats', 'started', 1) end
      redis.call('ZADD', p .. 'leases', now + lease, req['k'])
      redis.call('HSET', p .. 'leased', req['k'], data)
      return data
    end
  end
end
return false
