// nvmfd::expected and nvmfd::unexpected: std::expected wherever the standard
// library offers it (GCC 12, the product's compiler). libstdc++ 12 hides
// <expected> from compilers whose C++20 concepts are incomplete (clang 14
// reports __cpp_concepts 201907: no conditionally trivial destructors), and
// clang 14 is the compiler of the libFuzzer build; there the names are a
// small stand-in with the subset of std::expected's interface nvmfd uses.
#pragma once

#if __has_include(<expected>)
#include <expected>
#endif

#if defined(__cpp_lib_expected)

namespace nvmfd {
using std::bad_expected_access;
using std::expected;
using std::unexpected;
}  // namespace nvmfd

#else

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace nvmfd {

template <typename E>
class unexpected {
public:
    template <typename G = E>
        requires(!std::is_same_v<std::remove_cvref_t<G>, unexpected> && std::is_constructible_v<E, G>)
    constexpr explicit unexpected(G&& e) : error_(std::forward<G>(e)) {}

    constexpr const E& error() const& noexcept { return error_; }
    constexpr E& error() & noexcept { return error_; }
    constexpr E&& error() && noexcept { return std::move(error_); }

private:
    E error_;
};

template <typename E>
unexpected(E) -> unexpected<E>;

template <typename E>
class bad_expected_access : public std::exception {
public:
    explicit bad_expected_access(E e) : error_(std::move(e)) {}
    const char* what() const noexcept override { return "bad access to expected without value"; }
    const E& error() const& noexcept { return error_; }

private:
    E error_;
};

namespace detail {
template <typename>
inline constexpr bool is_unexpected = false;
template <typename E>
inline constexpr bool is_unexpected<unexpected<E>> = true;
}  // namespace detail

template <typename T, typename E>
class expected {
public:
    using value_type = T;
    using error_type = E;

    constexpr expected()
        requires std::is_default_constructible_v<T>
        : v_(std::in_place_index<0>) {}

    template <typename U = T>
        requires(!std::is_same_v<std::remove_cvref_t<U>, expected> &&
                 !detail::is_unexpected<std::remove_cvref_t<U>> && std::is_constructible_v<T, U>)
    constexpr explicit(!std::is_convertible_v<U, T>) expected(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}

    template <typename G>
    constexpr expected(const unexpected<G>& u) : v_(std::in_place_index<1>, u.error()) {}
    template <typename G>
    constexpr expected(unexpected<G>&& u) : v_(std::in_place_index<1>, std::move(u).error()) {}

    constexpr bool has_value() const noexcept { return v_.index() == 0; }
    constexpr explicit operator bool() const noexcept { return has_value(); }

    constexpr T& operator*() & { return std::get<0>(v_); }
    constexpr const T& operator*() const& { return std::get<0>(v_); }
    constexpr T&& operator*() && { return std::get<0>(std::move(v_)); }
    constexpr T* operator->() { return &std::get<0>(v_); }
    constexpr const T* operator->() const { return &std::get<0>(v_); }

    constexpr T& value() & {
        check();
        return std::get<0>(v_);
    }
    constexpr const T& value() const& {
        check();
        return std::get<0>(v_);
    }
    constexpr T&& value() && {
        check();
        return std::get<0>(std::move(v_));
    }
    template <typename U>
    constexpr T value_or(U&& other) const& {
        return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(other));
    }
    template <typename U>
    constexpr T value_or(U&& other) && {
        return has_value() ? std::get<0>(std::move(v_)) : static_cast<T>(std::forward<U>(other));
    }

    constexpr E& error() & { return std::get<1>(v_); }
    constexpr const E& error() const& { return std::get<1>(v_); }
    constexpr E&& error() && { return std::get<1>(std::move(v_)); }

private:
    void check() const {
        if (!has_value()) throw bad_expected_access<E>(std::get<1>(v_));
    }
    std::variant<T, E> v_;  // by index: T and E may be the same type
};

template <typename E>
class expected<void, E> {
public:
    using value_type = void;
    using error_type = E;

    constexpr expected() noexcept = default;
    template <typename G>
    constexpr expected(const unexpected<G>& u) : error_(std::in_place_index<1>, u.error()) {}
    template <typename G>
    constexpr expected(unexpected<G>&& u) : error_(std::in_place_index<1>, std::move(u).error()) {}

    constexpr bool has_value() const noexcept { return error_.index() == 0; }
    constexpr explicit operator bool() const noexcept { return has_value(); }
    constexpr void operator*() const noexcept {}
    constexpr void value() const {
        if (!has_value()) throw bad_expected_access<E>(std::get<1>(error_));
    }

    constexpr E& error() & { return std::get<1>(error_); }
    constexpr const E& error() const& { return std::get<1>(error_); }
    constexpr E&& error() && { return std::get<1>(std::move(error_)); }

private:
    std::variant<std::monostate, E> error_;
};

}  // namespace nvmfd

#endif
