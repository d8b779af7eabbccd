// Strict reading of binding arguments and option tables, like the state
// file's reader: a wrong type or an unknown key raises an InvalidArgument
// error table naming the field, so a typo in a policy is an error, not a
// silently ignored option.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <lua.hpp>

namespace nvmfd::lua {

std::string arg_string(lua_State* L, int arg, const char* field);
uint64_t arg_uint(lua_State* L, int arg, const char* field, uint64_t max);

// An optional table argument with a fixed set of keys.
class Options {
public:
    Options(lua_State* L, int arg, std::initializer_list<const char*> keys);
    std::optional<std::string> string(const char* key) const;
    std::optional<bool> boolean(const char* key) const;
    std::optional<uint64_t> uint(const char* key, uint64_t max) const;
    std::vector<std::string> strings(const char* key) const;
    // Values may be strings, integers or booleans (like the state file's params).
    std::map<std::string, std::string> string_map(const char* key) const;

private:
    int push(const char* key) const;  // pushes the value (nil when absent); returns its type
    lua_State* L_;
    int arg_;
    bool present_;
};

}  // namespace nvmfd::lua
