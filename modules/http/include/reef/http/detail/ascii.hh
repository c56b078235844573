// ASCII helpers for HTTP: case-insensitive comparison of field names and tokens.
//   reef::detail::ascii_iequals("Content-Length", "content-length")   // true
#pragma once

#include <cstddef>
#include <string_view>

namespace reef::detail {

/// `c` in lower case when it is an ASCII upper-case letter, else `c`.
constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

/// True when `a` and `b` are equal, ignoring ASCII case (bytes >= 0x80 compare exactly).
constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

}  // namespace reef::detail
