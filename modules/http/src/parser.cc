// The HTTP/1.1 parser (RFC 9112). Work in progress: the interface is final, parsing
// comes next.
#include <reef/http/parser.hh>

namespace reef::http {

std::string_view to_string(method m) noexcept {
    switch (m) {
    case method::get: return "GET";
    case method::head: return "HEAD";
    case method::post: return "POST";
    case method::put: return "PUT";
    case method::delete_: return "DELETE";
    case method::connect: return "CONNECT";
    case method::options: return "OPTIONS";
    case method::trace: return "TRACE";
    case method::patch: return "PATCH";
    case method::other: return "";
    }
    return "";
}

message_parser::message_parser(role r, const parser_limits& limits) : limits_(limits), role_(r) {}

request_parser::request_parser(const parser_limits& limits) : message_parser(role::request, limits) {}

response_parser::response_parser(const parser_limits& limits) : message_parser(role::response, limits) {}

void message_parser::feed(temporary_buffer<char> buf) noexcept {
    in_ = std::move(buf);
}

void message_parser::feed_eof() noexcept {
    eof_ = true;
}

parse_event message_parser::fail(std::uint16_t status, std::string_view reason) noexcept {
    stage_ = stage::failed;
    error_ = {status, reason};
    return parse_event::error;
}

parse_event message_parser::next() {
    return fail(501, "parser not implemented yet");
}

temporary_buffer<char> message_parser::release_unconsumed() {
    return std::move(in_);
}

void message_parser::reset() noexcept {
    *this = message_parser(role_, limits_);
}

}  // namespace reef::http
