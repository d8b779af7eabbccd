#include "core/target/ana.hpp"

namespace nvmfd::target {

const char* ana_state_name(proto::AnaState s) {
    switch (s) {
    case proto::AnaState::Optimized: return "optimized";
    case proto::AnaState::NonOptimized: return "non-optimized";
    case proto::AnaState::Inaccessible: return "inaccessible";
    case proto::AnaState::PersistentLoss: return "persistent-loss";
    case proto::AnaState::Change: return "change";
    }
    return "unknown";
}

std::optional<proto::AnaState> parse_ana_state(std::string_view s) {
    for (auto st : {proto::AnaState::Optimized, proto::AnaState::NonOptimized, proto::AnaState::Inaccessible,
                    proto::AnaState::PersistentLoss, proto::AnaState::Change})
        if (s == ana_state_name(st)) return st;
    return std::nullopt;
}

}  // namespace nvmfd::target
