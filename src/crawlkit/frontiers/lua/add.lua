-- queue requests (seeds) unless seen: ARGV[1] the prefix, then encoded requests
local p = ARGV[1]
local added = 0
for i = 2, #ARGV do
  local req = cjson.decode(ARGV[i])
  -- a dont_filter request (f = 0) skips the seen set
  if req['f'] == 0 or redis.call('SADD', p .. 'seen', req['k']) == 1 then
    local prio = tostring(req['p'] or 0)
    redis.call('RPUSH', p .. 'q:' .. req['o'] .. ' ' .. prio, ARGV[i])
    redis.call('ZADD', p .. 'qp:' .. req['o'], tonumber(prio), prio)
    if redis.call('SADD', p .. 'origins_set', req['o']) == 1 then
      redis.call('RPUSH', p .. 'origins', req['o'])
    end
    added = added + 1
  end
end
return added
