// HTTP dates (RFC 9110 section 5.6.7): formatting IMF-fixdate, parsing the three forms
// a recipient must accept, and the Server and Date lines refreshed once a second.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace reef::http::srv {

/// Length of an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
inline constexpr std::size_t http_date_size = 29;

/// Writes `t` (UTC) as an IMF-fixdate into out[0, 29). Never allocates.
void format_http_date(std::time_t t, char* out) noexcept;

/// Parses an IMF-fixdate, an RFC 850 date or an asctime() date; nullopt otherwise.
std::optional<std::time_t> parse_http_date(std::string_view s) noexcept;

/// The `Server` and `Date` lines every reply starts with, kept per server and shard:
/// the date is formatted at most once per second (a load of the reactor's cached clock
/// per call). Owner shard only.
class common_headers {
public:
    /// Lines for `server_name` ("" for no Server line).
    explicit common_headers(std::string_view server_name);
    /// "Server: x\r\nDate: d\r\n", either line left out on request. The view stays
    /// valid until the next call.
    std::string_view get(bool server, bool date) noexcept;

private:
    std::string text_;               // "Server: x\r\nDate: <29 bytes>\r\n"
    std::size_t date_line_ = 0;      // where "Date: " starts
    std::int64_t next_refresh_ = 0;  // lowres nanoseconds after which to format again
};

}  // namespace reef::http::srv
