// Micro-benchmarks of the HTTP/1.1 parser, per request: a typical 200-byte GET, the same
// request 16 times in one buffer (pipelined, as wrk's pipeline script sends them), a head
// split across two buffers (the arena path), a chunked POST and a response with a body.
// Beside them, a floor: finding the end of the head with memmem, the least any parser
// must do. One parser serves every iteration, as one does a connection; requests/s is
// 1e9 / ns per op. modules/http/README.md quotes the results.
#include "bench.hh"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <reef/http/parser.hh>

namespace {

using reef::temporary_buffer;
using reef::bench::keep;
using namespace reef::http;

// 200 bytes, a browser-like GET.
const std::string get_200 =
    "GET /api/items?id=12345 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    "Accept: text/html,application/xhtml+xml\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

std::string repeated(const std::string& s, int n) {
    std::string r;
    for (int i = 0; i < n; ++i) {
        r += s;
    }
    return r;
}
const std::string get_pipelined_16 = repeated(get_200, 16);

const std::string post_chunked =
    "POST /upload HTTP/1.1\r\nHost: www.example.com\r\nContent-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
    "20\r\n{\"id\":12345,\"name\":\"item\",\"n\":1}\r\n"
    "11;ext=1\r\n,\"tags\":[\"a\",\"b\"]\r\n0\r\n\r\n";

const std::string response_200 =
    "HTTP/1.1 200 OK\r\nServer: reef\r\nDate: Thu, 26 Nov 2026 10:00:00 GMT\r\n"
    "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

// A buffer over the bytes of `s` that owns nothing: feeding it allocates nothing, so the
// figures are the parser's own.
temporary_buffer<char> view_of(const std::string& s) {
    return temporary_buffer<char>(const_cast<char*>(s.data()), s.size(), reef::deleter());
}

// Runs the parser over what was fed until it needs more; counts heads and body bytes.
template <typename Parser>
void drain(Parser& p, std::uint64_t& heads, std::uint64_t& body_bytes) {
    for (;;) {
        switch (p.next()) {
            case parse_event::head_done:
                ++heads;
                keep(p.headers().size());
                break;
            case parse_event::body_data:
                body_bytes += p.take_body().size();
                break;
            case parse_event::message_done:
                break;
            case parse_event::need_more:
                return;
            default:
                std::abort();
        }
    }
}

template <typename Parser>
void parse_loop(std::uint64_t n, const std::vector<const std::string*>& buffers,
                std::uint64_t heads_per_iteration) {
    Parser p;
    std::uint64_t heads = 0, body = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        for (const std::string* b : buffers) {
            p.feed(view_of(*b));
            drain(p, heads, body);
        }
    }
    if (heads != n * heads_per_iteration) {
        std::abort();
    }
    keep(body);
}

const bool registered = [] {
    reef::bench::add("http/floor_find_head_end",
                     [](std::uint64_t n) {
                         for (std::uint64_t i = 0; i < n; ++i) {
                             const char* d = reef::bench::opaque(get_200.data());
                             keep(memmem(d, get_200.size(), "\r\n\r\n", 4));
                         }
                     },
                     {.description = "memmem for CRLFCRLF over the 200-byte GET: the least a parser does"});
    static const std::string first_half = get_200.substr(0, 100), second_half = get_200.substr(100);
    struct request_case {
        const char* name;
        std::vector<const std::string*> buffers;
        std::uint64_t requests;
        const char* description;
    };
    for (const auto& c : std::vector<request_case>{
             {"http/parse_get_200b", {&get_200}, 1, "a 200-byte GET with 5 fields, one buffer per request"},
             {"http/parse_pipelined_16", {&get_pipelined_16}, 16, "16 such GETs in one buffer, per request"},
             {"http/parse_get_split",
              {&first_half, &second_half},
              1,
              "the 200-byte GET cut in the middle of a field: the head goes to the arena"},
             {"http/parse_post_chunked",
              {&post_chunked},
              1,
              "a POST with two chunks (one with an extension)"},
         }) {
        reef::bench::add(c.name,
                         [c](std::uint64_t n) { parse_loop<request_parser>(n, c.buffers, c.requests); },
                         {.ops_per_iteration = c.requests, .description = c.description});
    }
    reef::bench::add("http/parse_response_200",
                     [](std::uint64_t n) { parse_loop<response_parser>(n, {&response_200}, 1); },
                     {.description = "a 200 response with 4 fields and a 13-byte Content-Length body"});
    return true;
}();

}  // namespace
