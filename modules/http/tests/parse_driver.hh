// Test helper: runs a parser over a message cut into pieces and records what it saw as
// one canonical text, so that any two ways of cutting the same bytes compare equal.
//   auto out = reef::http::testing::parse_pieces<reef::http::request_parser>({"GET / HTTP/1.1\r\n", "Host:
//   a\r\n\r\n"});
#pragma once

#include <reef/http/parser.hh>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace reef::http::testing {

/// What a parser reported for one input: a dump of every message (head, flags, body,
/// trailers), then "end", "error <status> <reason>" or "need more" (input ran out and
/// no end of stream was fed); or the invariant that broke.
struct outcome {
    std::string dump;
    std::uint16_t status = 0;  // error status, 0 if none
    std::size_t messages = 0;  // messages completed
    bool ended = false;
    std::string bug;  // a broken invariant (the run stops there), "" if none
};

inline std::string_view framing_name(body_framing f) {
    switch (f) {
        case body_framing::none:
            return "none";
        case body_framing::content_length:
            return "length";
        case body_framing::chunked:
            return "chunked";
        case body_framing::until_close:
            return "close";
    }
    return "?";
}

template <typename Parser>
void dump_head(const Parser& p, std::string& out) {
    if constexpr (std::is_same_v<Parser, request_parser>) {
        out += "request ";
        out += p.method_name();
        out += " [";
        out += to_string(p.method());
        out += "] ";
        out += p.target();
        out += p.expect_continue() ? " expect-continue" : "";
    } else {
        out += "response " + std::to_string(p.status()) + " '";
        out += p.reason();
        out += "'";
    }
    out += p.version() == http_version::http_1_0 ? " 1.0" : " 1.1";
    out += p.keep_alive() ? " keep-alive" : " close";
    out += p.connection_upgrade() ? " upgrade" : "";
    out += " framing=";
    out += framing_name(p.framing());
    out += " length=" + std::to_string(p.content_length()) + "\n";
    for (auto f : p.headers()) {
        out += "  ";
        out += f.name;
        out += ": <";
        out += f.value;
        out += ">\n";
    }
}

/// Feeds `pieces` one at a time (each a buffer of its own), then the end of the stream
/// when `eof`; stops at end, error, or when the input is used up.
/// Checks what a head must satisfy whatever the input: tokens for names, no control
/// characters but HTAB in values. Returns "" or what is wrong.
template <typename Parser>
std::string check_head(const Parser& p) {
    auto check_fields = [](header_list list) -> std::string {
        for (auto f : list) {
            if (f.name.empty()) {
                return "empty field name";
            }
            for (char c : f.name) {
                auto u = static_cast<unsigned char>(c);
                if (u <= 0x20 || u >= 0x7f || c == ':' || c == '"' || c == '(' || c == ')' || c == ',') {
                    return "field name character";
                }
            }
            for (char c : f.value) {
                auto u = static_cast<unsigned char>(c);
                if ((u < 0x20 && c != '\t') || u == 0x7f) {
                    return "field value character";
                }
            }
            auto ows = [](char c) { return c == ' ' || c == '\t'; };
            if (!f.value.empty() && (ows(f.value.front()) || ows(f.value.back()))) {
                return "untrimmed value";
            }
        }
        return "";
    };
    std::string wrong = check_fields(p.headers());
    if constexpr (std::is_same_v<Parser, request_parser>) {
        if (p.target().empty() || p.method_name().empty()) {
            wrong += "empty target or method";
        }
    } else {
        if (p.status() < 100 || p.status() > 999) {
            wrong += "status out of range";
        }
    }
    return wrong;
}

template <typename Parser>
outcome parse_pieces(Parser& p, const std::vector<std::string>& pieces, bool eof = true) {
    outcome o;
    std::size_t next_piece = 0;
    bool eof_fed = false;
    std::string fed;      // every byte fed so far
    int idle_events = 0;  // events in a row that consumed nothing
    std::uint64_t last_consumed = 0;
    for (int guard = 0; guard < 10'000'000; ++guard) {
        parse_event ev = p.next();
        if (p.consumed() + p.buffered() != fed.size()) {
            o.bug = "consumed + buffered is not what was fed";
            return o;
        }
        idle_events = p.consumed() == last_consumed ? idle_events + 1 : 0;
        last_consumed = p.consumed();
        if (idle_events > 4) {
            o.bug = "no progress";
            return o;
        }
        switch (ev) {
            case parse_event::need_more:
                if (p.buffered() != 0) {
                    o.bug = "need_more with bytes buffered";
                    return o;
                }
                idle_events = 0;
                if (next_piece < pieces.size()) {
                    const std::string& s = pieces[next_piece++];
                    fed += s;
                    p.feed(temporary_buffer<char>::copy_of(s));
                } else if (eof && !eof_fed) {
                    p.feed_eof();
                    eof_fed = true;
                } else {
                    o.dump += "need more\n";
                    return o;
                }
                break;
            case parse_event::head_done:
                if (auto wrong = check_head(p); !wrong.empty()) {
                    o.bug = wrong;
                    return o;
                }
                dump_head(p, o.dump);
                break;
            case parse_event::body_data: {
                auto b = p.take_body();
                if (b.empty()) {
                    o.bug = "empty body piece";
                    return o;
                }
                // The piece is the input's bytes just before what is consumed now.
                if (fed.compare(p.consumed() - b.size(), b.size(), b.view()) != 0) {
                    o.bug = "body piece is not the input";
                    return o;
                }
                o.dump += "  body <";
                o.dump.append(b.get(), b.size());
                o.dump += ">\x01\n";  // \x01 marks a body piece's end for merge_body_pieces()
                break;
            }
            case parse_event::message_done:
                for (auto f : p.trailers()) {
                    o.dump += "  trailer ";
                    o.dump += f.name;
                    o.dump += ": <";
                    o.dump += f.value;
                    o.dump += ">\n";
                }
                o.dump += "done\n";
                ++o.messages;
                break;
            case parse_event::end:
                o.dump += "end\n";
                o.ended = true;
                return o;
            case parse_event::error:
                if (p.error().reason.empty() || p.keep_alive() ||
                    std::string_view("400 413 414 431 501 505").find(std::to_string(p.error().status)) ==
                        std::string_view::npos) {
                    o.bug = "bad error";
                    return o;
                }
                o.dump +=
                    "error " + std::to_string(p.error().status) + " " + std::string(p.error().reason) + "\n";
                o.status = p.error().status;
                return o;
        }
    }
    o.bug = "too many events";
    return o;
}

template <typename Parser>
outcome parse_pieces(const std::vector<std::string>& pieces, bool eof = true,
                     const parser_limits& limits = {}) {
    Parser p(limits);
    return parse_pieces(p, pieces, eof);
}

/// The body pieces of consecutive body_data events are merged in a dump so that two
/// cuttings compare equal: "  body <ab>\n  body <c>\n" becomes "  body <abc>\n".
inline std::string merge_body_pieces(std::string dump) {
    const std::string_view join = ">\x01\n  body <";
    for (std::size_t at; (at = dump.find(join)) != std::string::npos;) {
        dump.erase(at, join.size());
    }
    for (std::size_t at; (at = dump.find('\x01')) != std::string::npos;) {
        dump.erase(at, 1);
    }
    return dump;
}

/// `s` cut at the given offsets (ascending, each within s).
inline std::vector<std::string> cut(std::string_view s, const std::vector<std::size_t>& at) {
    std::vector<std::string> pieces;
    std::size_t from = 0;
    for (std::size_t a : at) {
        pieces.emplace_back(s.substr(from, a - from));
        from = a;
    }
    pieces.emplace_back(s.substr(from));
    return pieces;
}

}  // namespace reef::http::testing
