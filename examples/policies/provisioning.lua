-- provisioning.lua: the `volume` template for `nvmfctl namespace provision`.
--
--   nvmfctl policy load provisioning.lua [--param backend=uring --param dir=/srv/nvmfd]
--   nvmfctl namespace provision volume --arg name=db1 --arg size=10G \
--       --arg host=nqn.2014-08.org.nvmexpress:uuid:... [--arg group=2]
--
-- One volume is one namespace in the subsystem PREFIX:NAME (made on first
-- use, then shared by the volumes of that name), visible only to the hosts
-- given, in the ANA group given (made when missing), linked to the port
-- given by the `port` parameter. If a step fails, nvmfd undoes the steps
-- before it: no half-made volume stays behind.
--
-- Template arguments (--arg):
--   name   (required) 1-32 of a-z 0-9 -; the subsystem is PREFIX:NAME
--   size   (required) e.g. 512M, 10G: digits and an optional K, M, G or T
--   host   host NQNs that may see the volume, separated by ","; they are
--          allowed on the subsystem. None: any host may connect and see it.
--   group  ANA group (default: the `group` parameter, or 1)
--
-- Policy parameters (--param at load):
--   prefix   NQN prefix (default nqn.2026-11.io.nvmfd)
--   backend  malloc (default: memory, for tests and demos) or uring
--   dir      for uring: the directory of the backing files; each volume
--            gets a sparse file DIR/NAME-NSID.img created at its size
--   port     a port id to link new subsystems to (default: none)
--   group    default ANA group (default 1)
--
-- It answers {subsystem, nsid, size, backend, ana_group, visible_to[, path]}.

local prefix = nvmfd.params.prefix or "nqn.2026-11.io.nvmfd"
local backend = nvmfd.params.backend or "malloc"
local dir = nvmfd.params.dir
local port = nvmfd.params.port and tonumber(nvmfd.params.port)
local default_group = tonumber(nvmfd.params.group or "1")

if backend ~= "malloc" and backend ~= "uring" then
  error("parameter backend must be malloc or uring, not " .. backend)
end
if backend == "uring" and not dir then
  error("the uring backend needs the parameter dir (where the backing files go)")
end

local function refuse(field, message)
  nvmfd.error("InvalidArgument", message, field)
end

local function split_hosts(text)
  local hosts = {}
  for h in (text or ""):gmatch("[^,]+") do hosts[#hosts + 1] = h end
  return hosts
end

local function find(list, pred)
  for _, x in ipairs(list) do
    if pred(x) then return x end
  end
end

templates = {}

function templates.volume(args)
  local name, size = args.name, args.size
  if not name or not name:match("^[a-z0-9][a-z0-9-]*$") or #name > 32 then
    refuse("name", "give a name of 1 to 32 characters a-z, 0-9 and -, e.g. --arg name=db1")
  end
  if not size or not size:match("^%d+[KMGT]?$") then
    refuse("size", "give a size like 512M or 10G, e.g. --arg size=10G")
  end
  local group = default_group
  if args.group then
    group = args.group:match("^%d+$") and tonumber(args.group)
    if not group then refuse("group", "must be an ANA group number, e.g. --arg group=2") end
  end
  for key in pairs(args) do
    if key ~= "name" and key ~= "size" and key ~= "host" and key ~= "group" then
      refuse(key, "unknown argument (known: name, size, host, group)")
    end
  end
  local hosts = split_hosts(args.host)

  local nqn = prefix .. ":" .. name
  local state = nvmfd.state()
  local sub = find(state.subsystems, function(s) return s.nqn == nqn end)
  if not sub then
    nvmfd.add_subsystem(nqn, {allow_any_host = #hosts == 0})
    if port then nvmfd.link(port, nqn) end
  end
  for _, h in ipairs(hosts) do
    -- The control API checks the NQN: a bad one fails here, and what was
    -- made above is undone.
    if not (sub and find(sub.hosts, function(x) return x == h end)) then nvmfd.allow_host(nqn, h) end
  end
  if not find(state.ana_groups, function(g) return g == group end) then nvmfd.add_ana_group(group) end

  local options = {backend = backend, ana_group = group, visible_to = hosts, params = {size = size}}
  local path
  if backend == "uring" then
    -- The NSID the namespace will get: the lowest free one.
    local used, nsid = {}, 1
    for _, ns in ipairs(sub and sub.namespaces or {}) do used[ns.nsid] = true end
    while used[nsid] do nsid = nsid + 1 end
    path = ("%s/%s-%d.img"):format(dir, name, nsid)
    options.nsid = nsid
    options.params = {path = path, size = size, create = true}
  end
  local nsid = nvmfd.add_namespace(nqn, options)
  nvmfd.log("notice", ("volume %s: namespace %d of %s, %s, ANA group %d"):format(name, nsid, nqn, size, group))
  return {subsystem = nqn, nsid = nsid, size = size, backend = backend, ana_group = group,
          visible_to = hosts, path = path}
end
