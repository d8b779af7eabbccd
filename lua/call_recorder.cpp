#include "lua/call_recorder.hpp"

#include "lua/bindings.hpp"
#include "lua/errors.hpp"
#include "lua/lua_to_json.hpp"

namespace nvmfd::lua {
namespace {

// Upvalues: 1 the binding, 2 its name.
int recorded(lua_State* L) {
    CallRecorder* recorder = binding_context(L).recorder;
    int nargs = lua_gettop(L);
    if (!recorder) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, nargs, LUA_MULTRET);
        return lua_gettop(L);
    }
    RecordedCall rc;
    rc.phase = recorder->phase();
    rc.call = lua_tostring(L, lua_upvalueindex(2));
    rc.args = nlohmann::json::array();
    for (int i = 1; i <= nargs; ++i) rc.args.push_back(to_json(L, i));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    // Protected only to see the error: it is raised again unchanged (a
    // spent budget stays spent, so this cannot swallow it).
    if (lua_pcall(L, nargs, LUA_MULTRET, 0) != LUA_OK) {
        if (auto e = error_from_lua(L, -1)) {
            rc.error = std::move(*e);
        } else {
            rc.error_text = luaL_tolstring(L, -1, nullptr);
            lua_pop(L, 1);
        }
        recorder->add(std::move(rc));
        return lua_error(L);
    }
    int results = lua_gettop(L);
    rc.result = results > 0 ? to_json(L, 1) : nlohmann::json();
    recorder->add(std::move(rc));
    return results;
}

}  // namespace

void record_calls_of(lua_State* L, std::initializer_list<const char*> names) {
    for (const char* name : names) {
        lua_getfield(L, -1, name);
        lua_pushstring(L, name);
        lua_pushcclosure(L, recorded, 2);
        lua_setfield(L, -2, name);
    }
}

}  // namespace nvmfd::lua
