local p = ARGV[1]
local queued = 0
for _, origin in ipairs(redis.call('LRANGE', p .. 'origins', 0, -1)) do
  for _, prio in ipairs(redis.call('ZRANGE', p .. 'qp:' .. origin, 0, -1)) do
    queued = queued + redis.call('LLEN', p .. 'q:' .. origin .. ' ' .. prio)
  end
end
return {queued, redis.call('ZCARD', p .. 'leases'), redis.call('SCARD', p .. 'seen'),
        tonumber(redis.call('HGET', p .. 'stats', 'started') or '0')}
