// Forward declarations of reef::http's public types, for headers that only name them.
//   #include <reef/http/fwd.hh>
//   void log_request(const reef::http::request_parser& p);
#pragma once

#include <cstdint>

namespace reef::http {

enum class method : std::uint8_t;
enum class http_version : std::uint8_t;
enum class body_framing : std::uint8_t;
enum class parse_event : std::uint8_t;
struct parser_limits;
struct parse_error;
struct header_field;
class header_list;
class message_parser;
class request_parser;
class response_parser;

}  // namespace reef::http
