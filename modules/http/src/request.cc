// request: query and path parameters, the lazily made body stream, and the body errors.
#include <reef/http/request.hh>

#include <fmt/core.h>

#include <reef/core/coroutine.hh>

namespace reef::http {

namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = char(c | 0x20);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte (a bad escape
// is kept as it is).
std::string form_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]);
            int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = char(hi * 16 + lo);
                i += 2;
            }
        }
        out.push_back(c);
    }
    return out;
}

// The body of a request that has no connection behind it: empty.
class empty_source final : public data_source_impl {
public:
    future<temporary_buffer<char>> get() override { return make_ready_future<temporary_buffer<char>>(); }
};

}  // namespace

request::~request() = default;

std::optional<std::string> request::query_param(std::string_view name) const {
    std::string_view q = query_;
    while (!q.empty()) {
        auto amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        auto eq = pair.find('=');
        std::string_view key = pair.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        if (key == name || form_decode(key) == name) {
            return form_decode(value);
        }
        if (amp == std::string_view::npos) {
            break;
        }
        q.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

std::string_view request::param(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < param_count_; ++i) {
        if (param_names_[i] == name) {
            return param_values_[i];
        }
    }
    return {};
}

void request::set_param(std::string_view name, std::string_view value) noexcept {
    if (param_count_ < max_route_params) {
        param_names_[param_count_] = name;
        param_values_[param_count_] = value;
        ++param_count_;
    }
}

const net::socket_address& request::remote_address() const noexcept {
    static const net::socket_address none;
    return remote_ ? *remote_ : none;
}

input_stream<char>& request::body() {
    if (!body_) {
        body_ = std::make_unique<input_stream<char>>(reader_ ? reader_->make_body_source()
                                                             : data_source(std::make_unique<empty_source>()));
    }
    return *body_;
}

future<std::string> request::content(std::size_t limit) {
    std::string out;
    if (auto n = content_length()) {
        if (*n > limit) {
            co_return coroutine::exception(
                std::make_exception_ptr(body_error(413, "the body is longer than allowed")));
        }
        out.reserve(*n);
    }
    auto& in = body();
    for (;;) {
        auto b = co_await in.read();
        if (b.empty()) {
            break;
        }
        if (out.size() + b.size() > limit) {
            co_return coroutine::exception(
                std::make_exception_ptr(body_error(413, "the body is longer than allowed")));
        }
        out.append(b.get(), b.size());
    }
    co_return out;
}

body_error::body_error(std::uint16_t status, std::string_view reason)
    : std::runtime_error(fmt::format("request body refused ({}): {}", status, reason)),
      status_(status) {}

request_timeout_error::request_timeout_error()
    : std::runtime_error("the request body did not arrive in time") {}

}  // namespace reef::http
