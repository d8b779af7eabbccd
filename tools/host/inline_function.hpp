// A callback stored inside the command slot: no heap allocation per command.
// It accepts only small, trivially copyable callables (lambdas capturing
// pointers, references and integers), which is what a completion needs; a
// capture that would need the heap fails to compile instead of allocating.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

namespace nvmfd::host {

template <typename Signature, size_t Capacity = 32>
class InlineFunction;

template <typename R, typename... Args, size_t Capacity>
class InlineFunction<R(Args...), Capacity> {
public:
    InlineFunction() = default;

    template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, InlineFunction>>>
    InlineFunction(F&& f) {  // NOLINT: implicit on purpose, as std::function
        using Callable = std::decay_t<F>;
        static_assert(std::is_trivially_copyable_v<Callable>,
                      "completion callbacks must be trivially copyable (capture pointers or references)");
        static_assert(sizeof(Callable) <= Capacity, "completion callback capture too large");
        static_assert(alignof(Callable) <= alignof(std::max_align_t));
        std::construct_at(reinterpret_cast<Callable*>(storage_), std::forward<F>(f));
        invoke_ = [](const void* storage, Args... args) -> R {
            return (*static_cast<Callable*>(const_cast<void*>(storage)))(std::forward<Args>(args)...);
        };
    }

    explicit operator bool() const { return invoke_ != nullptr; }
    R operator()(Args... args) const { return invoke_(storage_, std::forward<Args>(args)...); }
    void reset() { invoke_ = nullptr; }

private:
    alignas(std::max_align_t) std::byte storage_[Capacity]{};
    R (*invoke_)(const void*, Args...) = nullptr;
};

}  // namespace nvmfd::host
