-- ana-on-disconnect.lua: when the last host of a subsystem leaves port 1, make ANA
-- group 1 non-optimized there; check every 30 s that some port serves
-- group 1 optimized.
local port, group = tonumber(nvmfd.params.port or "1"), tonumber(nvmfd.params.group or "1")

function on_start()
  nvmfd.log("notice", "failover policy watching port " .. port)
  nvmfd.every(30, function()
    for _, p in ipairs(nvmfd.state().ports) do
      if (p.ana_states[tostring(group)] or "optimized") == "optimized" then return end
    end
    nvmfd.log("warn", "no port serves ANA group " .. group .. " optimized")
  end)
end

function on_controller_disconnect(info)
  if info.port ~= port then return end
  for _, c in ipairs(nvmfd.controllers()) do
    if c.port == port then return end
  end
  local ok, err = pcall(nvmfd.set_ana_state, port, group, "non-optimized")
  if not ok then nvmfd.log("error", tostring(err)) end
end
