-- The policy of the Lua argument fuzzer (fuzz_lua_args.cpp): one template
-- that hands every part of its args, as the host of `nvmfctl policy test`
-- chose them, to the bindings that read outside values, each call under
-- pcall so that one refusal does not hide the others, and returns them all
-- (converted back to JSON for the report).
templates = {}

function templates.fuzz(args)
    local calls = {
        function() return nvmfd.add_subsystem(args.nqn, args.subsystem) end,
        function() return nvmfd.add_namespace(args.nqn, args.namespace) end,
        function() return nvmfd.allow_host(args.nqn, args.host) end,
        function() return nvmfd.disallow_host(args.nqn, args.host) end,
        function() return nvmfd.add_ana_group(args.group) end,
        function() return nvmfd.set_ana_state(args.port, args.group, args.state) end,
        function() return nvmfd.link(args.port, args.nqn) end,
        function() return nvmfd.unlink(args.port, args.nqn, args.unlink) end,
        function() return nvmfd.remove_namespace(args.nqn, args.nsid) end,
        function() return nvmfd.remove_subsystem(args.nqn, args.remove) end,
        function() return nvmfd.log(args.level, args.message) end,
    }
    local results = {}
    for i, call in ipairs(calls) do
        results[i] = { pcall(call) }
    end
    return { args = args, results = results, state = nvmfd.state() }
end
