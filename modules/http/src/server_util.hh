// Small text helpers of the server side: tokens, trimming, comma-separated lists.
#pragma once

#include <cstddef>
#include <string_view>

#include <reef/http/detail/ascii.hh>

namespace reef::http::srv {

/// True for the characters of an RFC 9110 token.
constexpr bool is_tchar(char c) noexcept {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// True when `s` is a non-empty token.
constexpr bool is_token(std::string_view s) noexcept {
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (!is_tchar(c)) {
            return false;
        }
    }
    return true;
}

/// `s` without leading and trailing spaces and tabs.
constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

/// Calls fn(element) for each trimmed, non-empty element of a comma-separated list;
/// stops early when fn returns true, and returns whether it did.
template <typename Fn>
constexpr bool for_each_element(std::string_view list, Fn&& fn) {
    while (!list.empty()) {
        auto comma = list.find(',');
        auto item = trim(list.substr(0, comma));
        if (!item.empty() && fn(item)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return false;
}

/// True when the comma-separated `list` holds `token` (ignoring case).
constexpr bool has_token(std::string_view list, std::string_view token) noexcept {
    return for_each_element(list, [&](std::string_view e) { return reef::detail::ascii_iequals(e, token); });
}

}  // namespace reef::http::srv
