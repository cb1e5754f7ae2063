/**
 * Token buckets as RateLimiterRedis's customIncrTtlLuaScript, one Redis call
 * per request: an endpoint limiter's call also spends the IP's global bucket,
 * and bans the IP itself when either is empty.
 *
 * The package calls the script with KEYS[1] = key, ARGV = [points to take,
 * whole seconds of the duration, limiter points, limiter duration] and reads
 * back {consumed, ms}: consumed > points refuses. Points = capacity, duration
 * = capacity / rate (the seconds to refill from empty); ARGV[2] is unused (it
 * only has to be >= 1, else the package skips the script, see CONSUME_OPTS).
 * Every RateLimiterRedis on one client shares one defineCommand name
 * ("rlflxIncr"), so one script text serves every limiter: what is per limiter
 * comes via ARGV, and the global bucket's parameters and the ban length,
 * which are the same for all of them, are written into the text from the config.
 *
 * Keys are `<prefix>rl:{<ip>}:<bucket>`; the hash tag keeps an IP's buckets in
 * one Redis Cluster slot, so the endpoint call can reach `…:{<ip>}:g` (not
 * passed as a key: the package passes one) on the same node, atomically.
 * A value is "<tokens> <ms>" with a TTL of the time to refill (a missing key
 * is a full bucket). A value without a space is a ban (the package's format:
 * SET key <points+1> EX seconds): answered as a refusal with the ban's PTTL.
 *
 * - The global limiter's own calls (announce, sync, nodes, keys; KEYS[1] ends
 *   in ":g"): one bucket; on the first overflow it answers exactly
 *   points+taken, and the package writes the ban.
 * - An endpoint limiter's calls: the global bucket is spent first (a banned or
 *   empty one stops there), then the endpoint's; when either is empty the
 *   script writes the ban on the global key itself (the endpoint limiters have
 *   no blockDuration of their own). As in the memory limiter, a global token
 *   spent before an endpoint refusal stays spent. One call may carry several
 *   requests (points = their count): the script serves them in order, as
 *   separate calls would, and a refusal answers floor(cap) + 1 + the number
 *   it granted before refusing.
 */
export function tokenBucketLua(global: { capacity: number; duration: number }, banSeconds: number): string {
  return `
local G_CAP = ${luaNumber(global.capacity)}
local G_DURATION = ${luaNumber(global.duration)}
local BAN_SECONDS = ${luaNumber(banSeconds)}
local take = tonumber(ARGV[1])
local cap = tonumber(ARGV[3])
local per_ms = cap / (tonumber(ARGV[4]) * 1000)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local function is_ban(v)
  return v and not string.find(v, ' ', 1, true)
end
local function level(v, c, rate)
  if not v then return c end
  local s, last = string.match(v, '^(%S+) (%S+)$')
  if not s then return c end
  local elapsed = now - tonumber(last)
  if elapsed < 0 then elapsed = 0 end
  return math.min(c, tonumber(s) + elapsed * rate)
end
local function save(key, tokens, c, rate)
  local ttl = math.ceil((c - tokens) / rate)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', key, tokens .. ' ' .. now, 'PX', ttl)
  return ttl
end

local key = KEYS[1]
local gkey = string.match(key, '^(.*):[^:]*$') .. ':g'
if key == gkey then
  local v = redis.call('GET', key)
  if is_ban(v) then return {cap + take + 1, redis.call('PTTL', key)} end
  local tokens = level(v, cap, per_ms)
  if tokens < take then return {cap + take, math.ceil((take - tokens) / per_ms)} end
  tokens = tokens - take
  local ttl = save(key, tokens, cap, per_ms)
  return {cap - math.floor(tokens), ttl}
end

-- An endpoint call stands for \`take\` requests of the IP that arrived together
-- (RedisRateLimiter batches them), served as if one after another: each
-- spends a global token, then an endpoint token, and the first refusal bans.
local g_per_ms = G_CAP / (G_DURATION * 1000)
local gv = redis.call('GET', gkey)
if is_ban(gv) then return {math.floor(cap) + 1, redis.call('PTTL', gkey)} end
local g = level(gv, G_CAP, g_per_ms)
local e = level(redis.call('GET', key), cap, per_ms)
-- Requests that got a global token, and of those, the ones that also got an endpoint token.
local g_spent = math.min(take, math.floor(g))
local granted = math.min(g_spent, math.floor(e))
if granted == take then
  save(gkey, g - take, G_CAP, g_per_ms)
  e = e - take
  local ttl = save(key, e, cap, per_ms)
  return {cap - math.floor(e), ttl}
end
-- Request number granted+1 is refused: by the global bucket if it had no token left, else by the endpoint's.
local wait
if g_spent == granted then
  wait = math.ceil((1 - (g - granted)) / g_per_ms)
else
  wait = math.ceil((1 - (e - granted)) / per_ms)
end
if granted > 0 then save(key, e - granted, cap, per_ms) end
if BAN_SECONDS > 0 then
  -- The refusal bans the IP: the requests after it stop at the ban and spend nothing.
  redis.call('SET', gkey, G_CAP + 1, 'EX', BAN_SECONDS)
  wait = BAN_SECONDS * 1000
elseif g_spent > 0 then
  -- No ban: each later request still spends a global token before its endpoint refuses it.
  save(gkey, g - g_spent, G_CAP, g_per_ms)
end
-- More than cap refuses (the package rejects); how many were granted rides above it.
return {math.floor(cap) + 1 + granted, wait}
`;
}

/** A finite number as a Lua literal (17 significant digits: the value round-trips exactly). */
function luaNumber(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  return Number.isInteger(x) ? String(x) : x.toPrecision(17);
}
