// The text outputs shared by inet_address and socket_address, which both know how to
// format() themselves into a buffer of max_text_size characters. Private to the reactor
// module.
#pragma once

#include <ostream>
#include <string>

#include <fmt/format.h>

namespace reef::net::detail {

/// The text form as a string.
template <typename T>
std::string text_of(const T& a) {
    char buf[T::max_text_size];
    return std::string(buf, a.format(buf));
}

/// Writes the text form to a stream.
template <typename T>
std::ostream& write_text(std::ostream& os, const T& a) {
    char buf[T::max_text_size];
    return os.write(buf, std::streamsize(a.format(buf)));
}

/// Formats the text form with the string-view formatter `f` (its specs apply).
template <typename T>
fmt::format_context::iterator format_text(const fmt::formatter<fmt::string_view>& f, const T& a,
                                          fmt::format_context& ctx) {
    char buf[T::max_text_size];
    return f.format(fmt::string_view(buf, a.format(buf)), ctx);
}

}  // namespace reef::net::detail
