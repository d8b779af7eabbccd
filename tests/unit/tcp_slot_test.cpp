// The NVMe/TCP transport's guards against double queueing and double
// release: the send queue refuses an item it already holds, and the slot
// state table allows only the moves of a command's life.
#include <doctest/doctest.h>

#include <vector>

#include "plugins/transport_tcp/tcp_request.hpp"
#include "plugins/transport_tcp/tx_queue.hpp"

using namespace nvmfd::plugins::tcp;

namespace {

struct Item final : TxItem {
    void emit(IovEmitter&) const override {}
    void on_sent() override {}
};

}  // namespace

TEST_CASE("the send queue refuses an item it already holds") {
    TxQueue q;
    Item a, b;
    CHECK(q.push(a));
    CHECK(q.push(b));
    CHECK_FALSE(q.push(a));  // would make b's next point back to a: a loop
    CHECK(q.pop() == &a);
    CHECK(q.pop() == &b);
    CHECK(q.pop() == nullptr);
    CHECK(q.push(a));  // popped items may be queued again
    q.clear();
    CHECK(q.empty());
    CHECK(q.push(a));
}

TEST_CASE("slot states allow a command's life and nothing else") {
    using S = SlotState;
    // A read, a write through R2T, a write with in-capsule data.
    for (auto path : {std::vector<S>{S::Free, S::Executing, S::Sending, S::Free},
                      std::vector<S>{S::Free, S::Executing, S::WaitingBuffers, S::R2TQueued, S::AwaitingH2CData,
                                     S::Executing, S::Sending, S::Free},
                      std::vector<S>{S::Free, S::Executing, S::WaitingBuffers, S::ReceivingCapsuleData, S::Executing,
                                     S::Sending, S::Free},
                      // Over the connection's budget: a read, then a write through R2T.
                      std::vector<S>{S::Free, S::Executing, S::WaitingBudget, S::Executing, S::Sending, S::Free},
                      std::vector<S>{S::Free, S::Executing, S::WaitingBudget, S::WaitingBuffers, S::R2TQueued,
                                     S::AwaitingH2CData, S::Executing, S::Sending, S::Free}})
        for (size_t i = 1; i < path.size(); ++i) {
            CAPTURE(slot_state_name(path[i - 1]));
            CAPTURE(slot_state_name(path[i]));
            CHECK(slot_move_allowed(path[i - 1], path[i]));
        }
    CHECK_FALSE(slot_move_allowed(S::Free, S::Free));            // a second release
    CHECK_FALSE(slot_move_allowed(S::Sending, S::Sending));      // a second completion
    CHECK_FALSE(slot_move_allowed(S::R2TQueued, S::Executing));  // data before its R2T was sent
    CHECK_FALSE(slot_move_allowed(S::R2TQueued, S::Sending));    // a completion while its R2T is queued
    CHECK_FALSE(slot_move_allowed(S::Free, S::Sending));         // a completion for a free slot
    CHECK_FALSE(slot_move_allowed(S::AwaitingH2CData, S::Sending));
    CHECK_FALSE(slot_move_allowed(S::WaitingBudget, S::Sending));    // completed before it started
    CHECK_FALSE(slot_move_allowed(S::WaitingBudget, S::R2TQueued));  // an R2T without pages
    // A closing connection gives back any busy slot.
    for (S s : {S::Executing, S::WaitingBudget, S::WaitingBuffers, S::R2TQueued, S::AwaitingH2CData,
                S::ReceivingCapsuleData, S::Sending})
        CHECK(slot_move_allowed(s, S::Free));
}
