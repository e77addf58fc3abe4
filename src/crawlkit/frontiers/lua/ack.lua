local p, key, origin = ARGV[1], ARGV[2], ARGV[3]
local counters, errors, links = cjson.decode(ARGV[4]), cjson.decode(ARGV[5]), cjson.decode(ARGV[6])
local worker = ARGV[7]
-- a lease that expired and went to another worker is that worker's to acknowledge
if redis.call('HGET', p .. 'owner', key) == worker then
  redis.call('ZREM', p .. 'leases', key)
  redis.call('HDEL', p .. 'leased', key)
  redis.call('HDEL', p .. 'owner', key)
  redis.call('HINCRBY', p .. 'inflight', origin, -1)
  redis.call('HINCRBY', p .. 'mine', worker .. ' ' .. origin, -1)
end
for k, v in pairs(counters) do redis.call('HINCRBY', p .. 'stats', k, v) end
for k, v in pairs(errors) do redis.call('HINCRBY', p .. 'errors', k, v) end
for _, data in ipairs(links) do
  local req = cjson.decode(data)
  -- a dont_filter request (f = 0) skips the seen set
  if req['f'] == 0 or redis.call('SADD', p .. 'seen', req['k']) == 1 then
    local prio = tostring(req['p'] or 0)
    redis.call('RPUSH', p .. 'q:' .. req['o'] .. ' ' .. prio, data)
    redis.call('ZADD', p .. 'qp:' .. req['o'], tonumber(prio), prio)
    if redis.call('SADD', p .. 'origins_set', req['o']) == 1 then
      redis.call('RPUSH', p .. 'origins', req['o'])
    end
  end
end
return 1
