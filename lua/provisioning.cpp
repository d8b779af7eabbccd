#include "lua/provisioning.hpp"

#include <fmt/ranges.h>

#include "core/runtime/log.hpp"
#include "lua/template_undo.hpp"

namespace nvmfd::lua {
namespace {

std::string scalar_text(const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void push_args(lua_State* L, const std::map<std::string, std::string>& args) {
    lua_createtable(L, 0, static_cast<int>(args.size()));
    for (const auto& [k, v] : args) {
        lua_pushlstring(L, v.data(), v.size());
        lua_setfield(L, -2, k.c_str());
    }
}

}  // namespace

std::map<std::string, std::string> flatten_result(const nlohmann::json& result) {
    std::map<std::string, std::string> out;
    if (result.is_null()) return out;
    if (!result.is_object()) {
        out["result"] = scalar_text(result);
        return out;
    }
    for (auto it = result.begin(); it != result.end(); ++it) {
        const auto& v = it.value();
        if (v.is_object() && v.empty()) {
            out[it.key()] = "";  // an empty Lua table: an empty list as often as not
        } else if (v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_primitive(); })) {
            std::vector<std::string> items;
            for (const auto& x : v) items.push_back(scalar_text(x));
            out[it.key()] = fmt::format("{}", fmt::join(items, ","));
        } else {
            out[it.key()] = v.is_primitive() ? scalar_text(v) : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
    }
    return out;
}

Result<std::map<std::string, std::string>> provision(PolicyMap& policies, control::Control& control,
                                                     const std::string& name,
                                                     const std::map<std::string, std::string>& args) {
    std::vector<Policy*> defining;
    std::vector<std::string> known;
    for (auto& [policy_name, p] : policies) {
        for (const auto& t : p->templates()) {
            known.push_back(fmt::format("{} ({})", t, policy_name));
            if (t == name) defining.push_back(p.get());
        }
    }
    if (defining.empty())
        return make_error(ErrorCode::NotFound,
                          known.empty() ? fmt::format("no template '{}': no loaded policy defines templates", name)
                                        : fmt::format("no template '{}'; known: {}", name, fmt::join(known, ", ")),
                          "template");
    if (defining.size() > 1) {
        std::vector<std::string> owners;
        for (auto* p : defining) owners.push_back(p->spec().name);
        return make_error(ErrorCode::AlreadyExists,
                          fmt::format("template '{}' is defined by more than one policy ({}); unload all but one",
                                      name, fmt::join(owners, ", ")),
                          "template");
    }
    const control::ExportSpec before = control.export_spec();
    auto result = defining.front()->run_template(name, [&](lua_State* L) { push_args(L, args); });
    if (result) {
        log::notice("template {} of policy {} provisioned: {}", name, defining.front()->spec().name,
                    result->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        return flatten_result(*result);
    }
    // Half a namespace is worse than none: put back what this call changed.
    Error e = result.error();
    UndoReport undo = undo_changes(control, before);
    if (!undo.undone.empty()) e.message += fmt::format("; undone: {}", fmt::join(undo.undone, ", "));
    if (!undo.left.empty()) {
        e.message += fmt::format("; NOT undone: {}", fmt::join(undo.left, "; "));
        log::error("template {}: after its failure, {}", name, fmt::join(undo.left, "; "));
    }
    return nvmfd::unexpected(e);
}

}  // namespace nvmfd::lua
