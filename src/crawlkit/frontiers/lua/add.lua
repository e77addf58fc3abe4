local p = ARGV[1]
local added = 0
for i = 2, #ARGV do
  local req = cjson.decode(ARGV[i])
  if redis.call('SADD', p .. 'seen', req['u']) == 1 then
    redis.call('RPUSH', p .. 'q:' .. req['o'], ARGV[i])
    if redis.call('SADD', p .. 'origins_set', req['o']) == 1 then
      redis.call('RPUSH', p .. 'origins', req['o'])
    end
    added = added + 1
  end
end
return added
