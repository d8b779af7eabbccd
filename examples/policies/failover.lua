-- failover.lua: ANA failover and failback across a group of gateways that
-- export the same subsystem (same NQN, serial, NSIDs, NGUIDs and UUIDs, the
-- same storage, disjoint --cntlid-range). Load it on every gateway with the
-- same `gateways`, `groups` and `subsystem` and its own `self`:
--
--   nvmfctl policy load failover.lua --param self=a \
--       --param gateways=a=10.0.0.1:4420,b=10.0.0.2:4420 \
--       --param subsystem=nqn.2026-11.io.nvmfd:db1
--
-- Each gateway owns one ANA group: optimized on its own ports while it is
-- up, inaccessible on the others' ports. Every gateway probes every peer
-- (an NVMe/TCP admin connection that reads the peer's ANA log page), so it
-- knows which peers serve and which groups each one claims. When an owner
-- stops answering, or answers but does not serve its group (drained, or
-- its listener is gone), the first surviving gateway in `gateways` order
-- takes the group over; when the owner is back, the group fails back.
-- docs/high-availability.md explains the design, its timings and limits.
--
-- What a gateway shows for its own group on its ports tells its peers what
-- it wants:  optimized = serving it;  change = wants to serve it (the peer
-- holding it releases it once the owner has answered for failback_delay);
-- inaccessible = not serving it (draining): take it over. A gateway claims
-- a group only when no peer that might be up claims it, so two gateways
-- that see each other never both show a group optimized.
--
-- Parameters (--param key=value at load time):
--   self            this gateway's name in `gateways` (required)
--   gateways        the group, in takeover order: NAME=ADDRESS:PORT,... (required);
--                   the address and port peers probe (one of the gateway's ports)
--   subsystem       the NQN the gateways export (required); probes read its ANA log
--   groups          the ANA group each gateway owns: NAME=GROUP,...
--                   (default: the i-th gateway in `gateways` owns group i)
--   interval        seconds between probes of each peer (default 0.5)
--   missed          failed probes in a row before a peer counts as down (default 4)
--   timeout         seconds one probe may take (default: interval)
--   failback_delay  seconds a returning owner must have answered probes before
--                   the gateway that took its group over gives it back (default 2):
--                   an owner that restarts over and over does not drag its
--                   hosts back and forth
--   probe_hostnqn   the host NQN probes connect as; subsystems with an
--                   allow-list must allow it (default nqn.2026-11.io.nvmfd:gateway-probe)
--
-- While it is loaded, this policy owns the ANA states of the gateways'
-- groups on every local port linked to `subsystem` (and on ports linked to
-- nothing yet): it sets them again at its next probe if someone changes
-- them by hand.

local P = nvmfd.params

local function fail(field, message)
  error(string.format("InvalidArgument: %s (params.%s)", message, field), 0)
end

local function number_param(name, default, min, max)
  local v = P[name]
  if v == nil then return default end
  local n = tonumber(v)
  if n == nil or n < min or n > max then
    fail(name, string.format("must be a number from %s to %s, not '%s'", min, max, v))
  end
  return n
end

-- ------------------------------------------------------------ settings

local self_name = P.self or fail("self", "name this gateway (one of the names in gateways)")
local subsystem = P.subsystem or fail("subsystem", "give the NQN of the subsystem the gateways export")
if not P.gateways then fail("gateways", "list the group as NAME=ADDRESS:PORT,...") end

local order = {}      -- names, in takeover order
local gateways = {}   -- name -> {name, address, port, group}
for entry in string.gmatch(P.gateways, "[^,]+") do
  local name, address, port = string.match(entry, "^%s*([%w_.-]+)=(.+):(%d+)%s*$")
  if not name then fail("gateways", "'" .. entry .. "' is not NAME=ADDRESS:PORT") end
  if gateways[name] then fail("gateways", "'" .. name .. "' is listed twice") end
  address = string.match(address, "^%[(.*)%]$") or address  -- [IPv6]:port
  gateways[name] = {name = name, address = address, port = tonumber(port), group = #order + 1}
  order[#order + 1] = name
end
if #order < 2 then fail("gateways", "a group needs at least two gateways") end
if not gateways[self_name] then fail("self", "'" .. self_name .. "' is not in gateways") end

if P.groups then
  local seen = {}
  for entry in string.gmatch(P.groups, "[^,]+") do
    local name, group = string.match(entry, "^%s*([%w_.-]+)=(%d+)%s*$")
    if not name then fail("groups", "'" .. entry .. "' is not NAME=GROUP") end
    if not gateways[name] then fail("groups", "'" .. name .. "' is not in gateways") end
    group = tonumber(group)
    if seen[group] then fail("groups", "group " .. group .. " has two owners") end
    seen[group] = true
    gateways[name].group = group
  end
end

local interval = number_param("interval", 0.5, 0.05, 60)
local missed = math.floor(number_param("missed", 4, 1, 100))
local timeout = number_param("timeout", interval, 0.01, 60)
local failback_delay = number_param("failback_delay", 2, 0, 3600)
local probe_hostnqn = P.probe_hostnqn or "nqn.2026-11.io.nvmfd:gateway-probe"

local owner_of = {}   -- group -> owner name
for _, name in ipairs(order) do owner_of[gateways[name].group] = name end

-- ------------------------------------------------------------ what we know of peers

-- name -> {misses, answered (ever), ana = {[group] = state} from the last
-- answer, up_since = clock of the first answer after it was down, why}
local peers = {}
for _, name in ipairs(order) do
  if name ~= self_name then
    peers[name] = {misses = 0, answered = false, ana = {}, up_since = 0, results = 0, why = "not probed yet"}
  end
end

local clock = 0       -- seconds, advanced by the probe timer: policies have no os.time
local in_flight = {}

local function down(p) return p.misses >= missed end
-- Might it serve a group right now? Up, or failed fewer than `missed` times
-- since it last answered (its last answer still stands).
local function maybe_up(p) return not down(p) and p.answered end

local function claims(name, group)
  local p = peers[name]
  return maybe_up(p) and p.ana[group] == "optimized"
end

-- Some peer that might be up has never answered: we cannot know what it claims.
local function unknown_peer()
  for name, p in pairs(peers) do
    if not down(p) and not p.answered then return name end
  end
end

local function claimed_by_peer(group)
  for _, name in ipairs(order) do
    if name ~= self_name and claims(name, group) then return name end
  end
end

-- The gateway that should serve a group whose owner does not: the first in
-- `gateways` order, owner excluded, that is up and not giving up its own group.
local function successor(group)
  for _, name in ipairs(order) do
    if name ~= owner_of[group] then
      if name == self_name then
        if not nvmfd.draining() then return name end
      else
        local p = peers[name]
        local own = gateways[name].group
        if not down(p) and p.answered and p.ana[own] ~= "inaccessible" then return name end
      end
    end
  end
end

-- ------------------------------------------------------------ decisions

local decided = {}   -- group -> state we want on our ports
local reason = {}    -- group -> why, for the log

local function decide(group)
  if nvmfd.draining() then return "inaccessible", "this gateway is draining" end
  local owner = owner_of[group]
  if owner == self_name then
    local holder = claimed_by_peer(group)
    if holder then return "change", holder .. " serves it; asking for it back" end
    local unknown = unknown_peer()
    if unknown then return "change", "waiting for a first answer from " .. unknown end
    return "optimized", "owner"
  end
  local p = peers[owner]
  if maybe_up(p) and p.ana[group] == "optimized" then return "inaccessible", "owner " .. owner .. " serves it" end
  if maybe_up(p) and p.ana[group] == "change" then
    local back_for = clock - p.up_since
    if decided[group] == "optimized" and back_for < failback_delay then
      return "optimized", string.format("owner %s is back; failing back once it answered for %gs", owner,
                                        failback_delay)
    end
    return "inaccessible", "owner " .. owner .. " takes it back"
  end
  if not down(p) and not p.answered then return "inaccessible", owner .. " has not answered yet" end
  local why = down(p) and (owner .. " is down (" .. p.why .. ")") or (owner .. " does not serve it")
  local heir = successor(group)
  if heir ~= self_name then
    return "inaccessible", why .. "; " .. tostring(heir) .. " takes it over"
  end
  local holder = claimed_by_peer(group)
  if holder then return "inaccessible", why .. "; waiting for " .. holder .. " to release it" end
  local unknown = unknown_peer()
  if unknown then return "inaccessible", why .. "; waiting for a first answer from " .. unknown end
  return "optimized", "taken over: " .. why
end

-- Local ports that export the subsystem, with their current ANA states,
-- and ports that export nothing yet: a port added for the subsystem gets
-- our states before it is linked and a host can see it.
local function local_ports()
  local out = {}
  for _, port in ipairs(nvmfd.state().ports) do
    local ours = #port.subsystems == 0
    for _, nqn in ipairs(port.subsystems) do
      if nqn == subsystem then ours = true end
    end
    if ours then out[#out + 1] = port end
  end
  return out
end

-- After a change of our own (a port appeared, the drain ended) what we
-- know of the peers may be stale: a peer may have taken a group over since
-- it last answered. Until every peer answered once more, a port that
-- appeared serves nothing optimized, and no port becomes optimized.
local function snapshot()
  local seen = {}
  for name, p in pairs(peers) do seen[name] = p.results end
  return seen
end

local function answered_since(seen)
  for name, p in pairs(peers) do
    if not down(p) and p.results <= seen[name] then return false end
  end
  return true
end

local pending = {}   -- port id -> snapshot() when it appeared
local hold = nil     -- snapshot() when the drain ended

local function settle_pending()
  for id, seen in pairs(pending) do
    if answered_since(seen) then pending[id] = nil end
  end
  if hold and answered_since(hold) then hold = nil end
end

local function apply()
  settle_pending()
  local ports = local_ports()
  for group, _ in pairs(owner_of) do
    local state, why = decide(group)
    if decided[group] ~= state or reason[group] ~= why then
      local level = (decided[group] ~= state) and "notice" or "info"
      nvmfd.log(level, string.format("ANA group %d -> %s (%s)", group, state, why))
      decided[group], reason[group] = state, why
    end
    for _, port in ipairs(ports) do
      local want = state
      local current = port.ana_states[tostring(group)] or "optimized"
      if state == "optimized" and (pending[port.id] or (hold and current ~= "optimized")) then
        want = (owner_of[group] == self_name) and "change" or "inaccessible"
      end
      if current ~= want then
        local ok, err = pcall(nvmfd.set_ana_state, port.id, group, want)
        if not ok then nvmfd.log("error", "cannot set group " .. group .. " on port " .. port.id ..
                                          ": " .. tostring(err)) end
      end
    end
  end
end

-- ------------------------------------------------------------ probes

local function probe(name)
  if in_flight[name] then return end
  in_flight[name] = true
  local gw = gateways[name]
  nvmfd.probe({address = gw.address, port = gw.port, kind = "ana", subsystem = subsystem,
               hostnqn = probe_hostnqn, timeout = timeout},
    function(r)
      in_flight[name] = nil
      local p = peers[name]
      local was_down = down(p)
      p.results = p.results + 1
      if r.ok then
        if was_down or not p.answered then
          nvmfd.log("notice", "peer " .. name .. " is up")
          p.up_since = clock
        end
        p.misses, p.answered, p.ana, p.why = 0, true, r.ana or {}, "answering"
      else
        p.misses = p.misses + 1
        p.why = r.error
        if down(p) and not was_down then
          nvmfd.log("warn", string.format("peer %s is down: %d probes failed (%s)", name, p.misses, p.why))
        end
      end
      apply()
    end)
end

local running = false   -- on_start ran
local function ensure_groups()
  -- The groups must exist before their states can be set.
  local have = {}
  for _, g in ipairs(nvmfd.state().ana_groups) do have[g] = true end
  for group, _ in pairs(owner_of) do
    if not have[group] then nvmfd.add_ana_group(group) end
  end
end

function on_start()
  ensure_groups()
  running = true
  apply()   -- own group "change", the others inaccessible, until peers answer
  nvmfd.every(interval, function()
    clock = clock + interval
    for name, _ in pairs(peers) do probe(name) end
  end)
  for name, _ in pairs(peers) do probe(name) end
end

-- A port added or (re)linked to the subsystem gets the states we decided,
-- once every peer answered again (pending).
function on_port_change(info)
  if info.change == "added" or (info.change == "changed" and info.subsystem == subsystem) then
    pending[info.port] = snapshot()
  end
  if running then apply() end
end

function on_drain()
  nvmfd.log("notice", "draining: handing every ANA group to the peers")
  apply()
end

function on_resume()
  nvmfd.log("notice", "back in service")
  hold = snapshot()
  apply()
end
