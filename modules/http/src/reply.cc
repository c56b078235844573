// reply: status lines (precomputed once), header bookkeeping and the body kinds.
#include <reef/http/reply.hh>

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "server_util.hh"

namespace reef::http {

namespace {

struct named_status {
    std::uint16_t code;
    std::string_view reason;
};

constexpr named_status named_statuses[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

constexpr std::string_view class_reasons[] = {"Informational", "Success", "Redirection", "Client Error",
                                              "Server Error"};

constexpr unsigned first_code = 100;
constexpr unsigned last_code = 599;

// Every status line from 100 to 599, built once into one string.
struct status_table {
    std::string storage;
    std::array<std::string_view, last_code - first_code + 1> lines;
    std::array<std::string_view, last_code - first_code + 1> reasons;

    status_table() {
        for (unsigned c = first_code; c <= last_code; ++c) {
            reasons[c - first_code] = class_reasons[c / 100 - 1];
        }
        for (auto& n : named_statuses) {
            reasons[n.code - first_code] = n.reason;
        }
        std::vector<std::size_t> offsets;
        for (unsigned c = first_code; c <= last_code; ++c) {
            offsets.push_back(storage.size());
            storage += fmt::format("HTTP/1.1 {} {}\r\n", c, reasons[c - first_code]);
        }
        offsets.push_back(storage.size());
        for (unsigned c = first_code; c <= last_code; ++c) {
            std::size_t i = c - first_code;
            lines[i] = std::string_view(storage).substr(offsets[i], offsets[i + 1] - offsets[i]);
        }
    }
};

const status_table& statuses() {
    static const status_table table;
    return table;
}

unsigned index_of(status_type s) noexcept {
    unsigned c = unsigned(s);
    if (c < first_code || c > last_code) {
        c = 500;
    }
    return c - first_code;
}

}  // namespace

std::string_view reason_phrase(status_type s) noexcept {
    return statuses().reasons[index_of(s)];
}

std::string_view status_line(status_type s) noexcept {
    return statuses().lines[index_of(s)];
}

reply::reply(status_type s, std::string body, std::string_view content_type)
    : status_(s),
      body_(std::move(body)) {
    set_content_type(content_type);
}

reply reply::text(std::string body, status_type s) {
    return reply(s, std::move(body), "text/plain");
}

reply reply::html(std::string body, status_type s) {
    return reply(s, std::move(body), "text/html; charset=utf-8");
}

reply reply::json(const nlohmann::json& value, status_type s) {
    return reply(s, value.dump(), "application/json");
}

reply reply::error(status_type s) {
    std::string body = fmt::format("{} {}\n", unsigned(s), reason_phrase(s));
    return reply(s, std::move(body), "text/plain");
}

reply reply::redirect(std::string_view location, status_type s) {
    reply r(s);
    r.set_header("Location", location);
    return r;
}

void reply::check_header(std::string_view name, std::string_view value) const {
    if (!srv::is_token(name)) {
        throw std::invalid_argument(fmt::format("reply header name is not a token: {:?}", name));
    }
    if (value.find_first_of("\r\n") != std::string_view::npos || value.find('\0') != std::string_view::npos) {
        throw std::invalid_argument(fmt::format("reply header {} has CR, LF or NUL in its value", name));
    }
    if (reef::detail::ascii_iequals(name, "content-length") ||
        reef::detail::ascii_iequals(name, "transfer-encoding")) {
        throw std::invalid_argument(fmt::format("the server sets {} itself", name));
    }
}

bool reply::special_header(std::string_view name, std::string_view value) {
    if (reef::detail::ascii_iequals(name, "content-type")) {
        set_content_type(value);
        return true;
    }
    if (reef::detail::ascii_iequals(name, "connection")) {
        if (srv::has_token(value, "close")) {
            close_ = true;
        }
        return true;
    }
    if (reef::detail::ascii_iequals(name, "date")) {
        own_date_ = true;
    } else if (reef::detail::ascii_iequals(name, "server")) {
        own_server_ = true;
    }
    return false;
}

reply& reply::set_header(std::string_view name, std::string_view value) {
    check_header(name, value);
    remove_header(name);
    if (special_header(name, value)) {
        return *this;
    }
    headers_.append(name).append(": ").append(value).append("\r\n");
    return *this;
}

reply& reply::add_header(std::string_view name, std::string_view value) {
    check_header(name, value);
    if (special_header(name, value)) {
        return *this;
    }
    headers_.append(name).append(": ").append(value).append("\r\n");
    return *this;
}

std::optional<std::string_view> reply::get_header(std::string_view name) const noexcept {
    if (reef::detail::ascii_iequals(name, "content-type")) {
        auto t = content_type();
        return t.empty() ? std::nullopt : std::optional<std::string_view>(t);
    }
    std::string_view all = headers_;
    while (!all.empty()) {
        auto eol = all.find("\r\n");
        std::string_view line = all.substr(0, eol);
        all.remove_prefix(eol + 2);
        auto colon = line.find(':');
        if (reef::detail::ascii_iequals(line.substr(0, colon), name)) {
            return line.substr(colon + 2);
        }
    }
    return std::nullopt;
}

reply& reply::remove_header(std::string_view name) noexcept {
    if (reef::detail::ascii_iequals(name, "content-type")) {
        type_len_ = 0;
        long_type_.clear();
        return *this;
    }
    std::size_t pos = 0;
    while (pos < headers_.size()) {
        std::size_t eol = headers_.find("\r\n", pos);
        std::string_view line(headers_.data() + pos, eol - pos);
        if (reef::detail::ascii_iequals(line.substr(0, line.find(':')), name)) {
            headers_.erase(pos, eol + 2 - pos);
        } else {
            pos = eol + 2;
        }
    }
    if (reef::detail::ascii_iequals(name, "date")) {
        own_date_ = false;
    } else if (reef::detail::ascii_iequals(name, "server")) {
        own_server_ = false;
    }
    return *this;
}

reply& reply::set_content_type(std::string_view type) {
    if (type.find_first_of("\r\n") != std::string_view::npos) {
        throw std::invalid_argument("a content type with CR or LF");
    }
    if (type.size() <= inline_type_size) {
        std::copy(type.begin(), type.end(), type_);
        type_len_ = std::uint8_t(type.size());
        long_type_.clear();
    } else {
        long_type_.assign(type);
        type_len_ = 0;
    }
    return *this;
}

std::string_view reply::content_type() const noexcept {
    if (!long_type_.empty()) {
        return long_type_;
    }
    return {type_, type_len_};
}

reply& reply::set_body(std::string body) noexcept {
    body_ = std::move(body);
    buffers_.clear();
    writer_ = nullptr;
    writer_length_.reset();
    return *this;
}

reply& reply::set_body(std::string body, std::string_view content_type) {
    set_content_type(content_type);
    return set_body(std::move(body));
}

reply& reply::set_body(std::vector<temporary_buffer<char>> buffers) noexcept {
    body_.clear();
    buffers_ = std::move(buffers);
    writer_ = nullptr;
    writer_length_.reset();
    return *this;
}

reply& reply::set_body(temporary_buffer<char> buffer) {
    std::vector<temporary_buffer<char>> v;
    v.push_back(std::move(buffer));
    return set_body(std::move(v));
}

reply& reply::write_body(std::string_view content_type, body_writer writer,
                         std::optional<std::uint64_t> length) {
    set_content_type(content_type);
    body_.clear();
    buffers_.clear();
    writer_ = std::move(writer);
    writer_length_ = length;
    return *this;
}

std::uint64_t reply::body_size() const noexcept {
    std::uint64_t n = body_.size();
    for (auto& b : buffers_) {
        n += b.size();
    }
    return n;
}

}  // namespace reef::http
