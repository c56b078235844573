// HTTP dates: IMF-fixdate formatting by hand (no locale, no allocation), parsing of the
// three accepted forms, and the per-server Server and Date lines refreshed once a second.
#include "http_date.hh"

#include <chrono>
#include <cstring>

#include <reef/reactor/clock.hh>

namespace reef::http::srv {

namespace {

constexpr std::string_view day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void put2(char* p, int v) noexcept {
    p[0] = char('0' + v / 10 % 10);
    p[1] = char('0' + v % 10);
}

// Reads exactly `n` digits at s[pos]; -1 if they are not all digits.
int digits(std::string_view s, std::size_t pos, std::size_t n) noexcept {
    if (pos + n > s.size()) {
        return -1;
    }
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    return v;
}

int month_of(std::string_view m) noexcept {
    for (int i = 0; i < 12; ++i) {
        if (m == month_names[i]) {
            return i;
        }
    }
    return -1;
}

// "HH:MM:SS" at s[pos].
bool parse_time(std::string_view s, std::size_t pos, std::tm& tm) noexcept {
    if (pos + 8 > s.size() || s[pos + 2] != ':' || s[pos + 5] != ':') {
        return false;
    }
    tm.tm_hour = digits(s, pos, 2);
    tm.tm_min = digits(s, pos + 3, 2);
    tm.tm_sec = digits(s, pos + 6, 2);
    return tm.tm_hour >= 0 && tm.tm_hour < 24 && tm.tm_min >= 0 && tm.tm_min < 60 && tm.tm_sec >= 0 &&
           tm.tm_sec <= 60;
}

std::optional<std::time_t> finish(std::tm& tm) noexcept {
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0) {
        return std::nullopt;
    }
    return ::timegm(&tm);
}

}  // namespace

void format_http_date(std::time_t t, char* out) noexcept {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::memcpy(out, day_names[tm.tm_wday].data(), 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, tm.tm_mday);
    out[7] = ' ';
    std::memcpy(out + 8, month_names[tm.tm_mon].data(), 3);
    out[11] = ' ';
    int year = tm.tm_year + 1900;
    put2(out + 12, year / 100);
    put2(out + 14, year % 100);
    out[16] = ' ';
    put2(out + 17, tm.tm_hour);
    out[19] = ':';
    put2(out + 20, tm.tm_min);
    out[22] = ':';
    put2(out + 23, tm.tm_sec);
    std::memcpy(out + 25, " GMT", 4);
}

std::optional<std::time_t> parse_http_date(std::string_view s) noexcept {
    std::tm tm{};
    auto comma = s.find(',');
    if (comma == 3 && s.size() == http_date_size) {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        if (s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s.substr(25) != " GMT") {
            return std::nullopt;
        }
        tm.tm_mday = digits(s, 5, 2);
        tm.tm_mon = month_of(s.substr(8, 3));
        int year = digits(s, 12, 4);
        if (year < 0 || !parse_time(s, 17, tm)) {
            return std::nullopt;
        }
        tm.tm_year = year - 1900;
        return finish(tm);
    }
    if (comma != std::string_view::npos && comma > 3) {
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
        std::string_view rest = s.substr(comma + 1);
        if (rest.size() != 23 || rest[0] != ' ' || rest[3] != '-' || rest[7] != '-' || rest[10] != ' ' ||
            rest.substr(19) != " GMT") {
            return std::nullopt;
        }
        tm.tm_mday = digits(rest, 1, 2);
        tm.tm_mon = month_of(rest.substr(4, 3));
        int yy = digits(rest, 8, 2);
        if (yy < 0 || !parse_time(rest, 11, tm)) {
            return std::nullopt;
        }
        // Two-digit years: RFC 9110 reads them as the closest century; 70 splits here.
        tm.tm_year = yy < 70 ? yy + 100 : yy;
        return finish(tm);
    }
    if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        // asctime: "Sun Nov  6 08:49:37 1994"
        tm.tm_mon = month_of(s.substr(4, 3));
        tm.tm_mday = s[8] == ' ' ? digits(s, 9, 1) : digits(s, 8, 2);
        int year = digits(s, 20, 4);
        if (year < 0 || !parse_time(s, 11, tm)) {
            return std::nullopt;
        }
        tm.tm_year = year - 1900;
        return finish(tm);
    }
    return std::nullopt;
}

common_headers::common_headers(std::string_view server_name) {
    if (!server_name.empty()) {
        text_.append("Server: ").append(server_name).append("\r\n");
    }
    date_line_ = text_.size();
    text_.append("Date: ").append(http_date_size, ' ').append("\r\n");
}

std::string_view common_headers::get(bool server, bool date) noexcept {
    std::int64_t now = lowres_clock::now().time_since_epoch().count();
    if (now >= next_refresh_) [[unlikely]] {
        // The wall clock's seconds turn over independently of the steady clock: refresh
        // at the steady instant the wall clock reaches its next second.
        auto wall = std::chrono::system_clock::now().time_since_epoch();
        auto secs = std::chrono::duration_cast<std::chrono::seconds>(wall);
        format_http_date(std::time_t(secs.count()), text_.data() + date_line_ + 6);
        auto to_next = std::chrono::seconds(1) - (wall - secs);
        next_refresh_ = now + std::chrono::duration_cast<std::chrono::nanoseconds>(to_next).count();
    }
    std::string_view all = text_;
    if (server && date) {
        return all;
    }
    if (server) {
        return all.substr(0, date_line_);
    }
    return date ? all.substr(date_line_) : std::string_view();
}

}  // namespace reef::http::srv
