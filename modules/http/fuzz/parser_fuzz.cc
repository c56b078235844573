// libFuzzer target for the HTTP/1.1 parser. An input is two control bytes and a message:
//   byte 0: bit 0 response parser (else request parser); bits 1-2 the request method a
//           response answers (GET, HEAD, CONNECT, POST); bit 3 small limits; bit 4 no
//           end of stream after the message
//   byte 1: how the message is cut into buffers: 0 whole, else pieces of 1 to
//           (byte & 63) + 1 bytes from a generator seeded with it
// The message is parsed whole and cut; both runs must keep every invariant that
// parse_pieces() checks (consumed + buffered == fed, progress, body pieces equal to the
// input, valid heads and errors) and must report the same messages and outcome.
#include <reef/http/parser.hh>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "../tests/parse_driver.hh"

namespace {

using namespace reef::http;

constexpr method answered[] = {method::get, method::head, method::connect, method::post};

std::vector<std::size_t> cut_points(std::size_t size, std::uint8_t how) {
    std::vector<std::size_t> at;
    if (how == 0) {
        return at;
    }
    std::uint32_t state = 0x9e3779b9u ^ how;
    std::size_t max_piece = (how & 63u) + 1;
    for (std::size_t pos = 0;;) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        pos += 1 + state % max_piece;
        if (pos >= size) {
            return at;
        }
        at.push_back(pos);
    }
}

template <typename Parser>
testing::outcome run(const std::vector<std::string>& pieces, std::uint8_t flags) {
    parser_limits limits;
    if (flags & 8u) {
        limits.max_start_line = 40;
        limits.max_header_bytes = 96;
        limits.max_header_count = 4;
        limits.max_body_size = 64;
        limits.max_chunk_line = 12;
    }
    Parser p(limits);
    if constexpr (std::is_same_v<Parser, response_parser>) {
        p.set_request_method(answered[(flags >> 1) & 3u]);
    }
    auto o = testing::parse_pieces(p, pieces, (flags & 16u) == 0);
    o.dump = testing::merge_body_pieces(o.dump);
    return o;
}

[[noreturn]] void report(const char* what, const std::string& a, const std::string& b) {
    std::fprintf(stderr, "parser_fuzz: %s\n--- whole:\n%s--- cut:\n%s", what, a.c_str(), b.c_str());
    std::abort();
}

template <typename Parser>
void check(std::string_view msg, std::uint8_t flags, std::uint8_t how) {
    auto whole = run<Parser>({std::string(msg)}, flags);
    auto split = run<Parser>(testing::cut(msg, cut_points(msg.size(), how)), flags);
    if (!whole.bug.empty() || !split.bug.empty()) {
        report(("an invariant does not hold: " + whole.bug + split.bug).c_str(), whole.dump, split.dump);
    }
    if (whole.dump != split.dump) {
        report("cutting the input changed the result", whole.dump, split.dump);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    std::uint8_t flags = data[0];
    std::uint8_t how = data[1];
    std::string_view msg(reinterpret_cast<const char*>(data) + 2, size - 2);
    if (flags & 1u) {
        check<response_parser>(msg, flags, how);
    } else {
        check<request_parser>(msg, flags, how);
    }
    return 0;
}
