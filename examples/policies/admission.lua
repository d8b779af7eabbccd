-- admission.lua: who may connect, on top of the subsystems' allow-lists.
--
--   nvmfctl policy load admission.lua \
--     --param allow_prefix=nqn.2014-08.org.nvmexpress:uuid:,nqn.2026-11.com.example: \
--     --param deny=nqn.2026-11.com.example:host-retired \
--     --param max_hosts=4
--
-- Parameters (all optional; lists are comma-separated):
--   allow_prefix  host NQN prefixes: when given, a host NQN must start with
--                 one of them (your site's naming scheme)
--   deny          host NQNs that are always refused (a retired or
--                 compromised host)
--   max_hosts     at most this many distinct hosts on one subsystem at a
--                 time; a host already connected may always add controllers
--                 (reconnects, multipath)
--   subsystems    subsystem NQNs the rules apply to (default: every one)
--
-- A policy can only refuse: a host the allow-list refuses stays refused.
-- A refused host gets Connect Invalid Host; the log and the D-Bus
-- HostRefused signal carry the reason given below.

local known = {allow_prefix = true, deny = true, max_hosts = true, subsystems = true}
for key in pairs(nvmfd.params) do
  if not known[key] then
    error("unknown parameter '" .. key .. "' (known: allow_prefix, deny, max_hosts, subsystems)")
  end
end

-- "a, b,c" -> {"a", "b", "c"} (plain finds: no pattern cost on long lists)
local function list(text)
  local out, at = {}, 1
  text = text or ""
  while at <= #text do
    local comma = text:find(",", at, true) or (#text + 1)
    local item = text:sub(at, comma - 1):match("^%s*(.-)%s*$")
    if item ~= "" then out[#out + 1] = item end
    at = comma + 1
  end
  return out
end

local function set(items)
  local s = {}
  for _, v in ipairs(items) do s[v] = true end
  return s
end

local allow_prefix = list(nvmfd.params.allow_prefix)
local deny = set(list(nvmfd.params.deny))
local scope = nvmfd.params.subsystems and set(list(nvmfd.params.subsystems)) or nil
local max_hosts = nil
if nvmfd.params.max_hosts then
  max_hosts = math.tointeger(tonumber(nvmfd.params.max_hosts))
  if not max_hosts or max_hosts < 1 then error("max_hosts must be a positive integer") end
end

-- Hosts admitted whose controller is not listed yet (its Connect is still
-- completing): they count toward max_hosts until on_controller_connect
-- shows them, or for 10 s if the Connect never completes.
local admitted = {}

local function hosts_on(subsystem)
  local hosts, n = {}, 0
  for _, c in ipairs(nvmfd.controllers()) do
    if c.subsystem == subsystem and not hosts[c.host] then hosts[c.host], n = true, n + 1 end
  end
  for host in pairs(admitted[subsystem] or {}) do
    if not hosts[host] then hosts[host], n = true, n + 1 end
  end
  return hosts, n
end

local function starts_with_any(text, prefixes)
  for _, p in ipairs(prefixes) do
    if text:sub(1, #p) == p then return true end
  end
  return false
end

function on_host_connect(info)
  if scope and not scope[info.subsystem] then return true end
  if deny[info.host] then return false, "the host is on the deny list" end
  if #allow_prefix > 0 and not starts_with_any(info.host, allow_prefix) then
    return false, "the host NQN matches no allowed prefix"
  end
  if max_hosts then
    local hosts, n = hosts_on(info.subsystem)
    if not hosts[info.host] and n >= max_hosts then
      return false, ("the subsystem already serves %d hosts (max_hosts)"):format(n)
    end
    admitted[info.subsystem] = admitted[info.subsystem] or {}
    admitted[info.subsystem][info.host] = true
    nvmfd.after(10, function()
      if admitted[info.subsystem] then admitted[info.subsystem][info.host] = nil end
    end)
  end
  return true
end

function on_controller_connect(info)
  if admitted[info.subsystem] then admitted[info.subsystem][info.host] = nil end
end
