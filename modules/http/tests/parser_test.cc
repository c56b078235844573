#include <reef/http/parser.hh>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "parse_driver.hh"

using namespace reef::http;
using reef::temporary_buffer;
using testing::cut;
using testing::merge_body_pieces;
using testing::parse_pieces;

namespace {

temporary_buffer<char> buffer_of(std::string_view s) {
    return temporary_buffer<char>::copy_of(s);
}

// Parses `msg` whole, then cut at every single point, then (when short) at every pair of
// points, then byte by byte: each must give the same outcome and keep every invariant
// parse_pieces() checks. Returns the whole one. (Few assertions: the TAP reporter prints
// each one.)
template <typename Parser>
testing::outcome parse_every_way(std::string_view msg, const parser_limits& limits = {},
                                 method request_method = method::get) {
    INFO("message: " << msg);
    auto run = [&](const std::vector<std::string>& pieces, const char* how) {
        Parser p(limits);
        if constexpr (std::is_same_v<Parser, response_parser>) {
            p.set_request_method(request_method);
        }
        auto o = parse_pieces(p, pieces);
        if (!o.bug.empty()) {
            FAIL(how << ": " << o.bug << "\n" << o.dump);
        }
        o.dump = merge_body_pieces(o.dump);
        return o;
    };
    auto whole = run({std::string(msg)}, "whole");
    auto same = [&](const std::vector<std::string>& pieces, const std::string& how) {
        auto o = run(pieces, how.c_str());
        if (o.dump != whole.dump) {
            FAIL("cut " << how << ":\n" << o.dump << "whole:\n" << whole.dump);
        }
    };
    for (std::size_t i = 0; i <= msg.size(); ++i) {
        same(cut(msg, {i}), "at " + std::to_string(i));
    }
    if (msg.size() <= 200) {
        for (std::size_t i = 1; i < msg.size(); ++i) {
            for (std::size_t j = i + 1; j < msg.size(); ++j) {
                same(cut(msg, {i, j}), "at " + std::to_string(i) + " and " + std::to_string(j));
            }
        }
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < msg.size(); ++i) {
        every.push_back(i);
    }
    same(cut(msg, every), "byte by byte");
    return whole;
}

}  // namespace

TEST_CASE("the method names are the tokens of RFC 9110", "[http]") {
    CHECK(to_string(method::get) == "GET");
    CHECK(to_string(method::delete_) == "DELETE");
    CHECK(to_string(method::other).empty());
}

TEST_CASE("a GET with many headers gives its start line and fields, looked up without case", "[http]") {
    std::string msg = "GET /index.html?q=1&r=%20 HTTP/1.1\r\nHost: example.com\r\n";
    for (int i = 0; i < 40; ++i) {
        msg += "X-Field-" + std::to_string(i) + ": value " + std::to_string(i) + "\r\n";
    }
    msg += "Accept:  text/html \t\r\nEmpty:\r\nx-field-7: again\r\n\r\n";
    request_parser p;
    p.feed(buffer_of(msg));
    REQUIRE(p.next() == parse_event::head_done);
    CHECK(p.method() == method::get);
    CHECK(p.method_name() == "GET");
    CHECK(p.target() == "/index.html?q=1&r=%20");
    CHECK(p.version() == http_version::http_1_1);
    CHECK(p.keep_alive());
    CHECK(p.framing() == body_framing::none);
    auto h = p.headers();
    CHECK(h.size() == 44);
    CHECK(h[0].name == "Host");
    CHECK(h[0].value == "example.com");
    CHECK(h.get("HOST") == "example.com");
    CHECK(h.get("accept") == "text/html");
    CHECK(h.get("empty").empty());
    CHECK((h.get("empty").data() != nullptr)); // parenthesized: Catch would print the pointer as a C string
    CHECK(h.contains("Empty"));
    CHECK_FALSE(h.contains("missing"));
    CHECK((h.get("missing").data() == nullptr));
    CHECK(h.get("X-FIELD-7") == "value 7");
    CHECK(h.count("x-field-7") == 2);
    std::vector<std::string_view> sevens;
    h.for_each("X-Field-7", [&](std::string_view v) { sevens.push_back(v); });
    CHECK(sevens == std::vector<std::string_view>{"value 7", "again"});
    std::size_t n = 0;
    for (auto f : h) {
        CHECK(!f.name.empty());
        ++n;
    }
    CHECK(n == 44);
    CHECK(p.next() == parse_event::message_done);
    CHECK(p.next() == parse_event::need_more);
    CHECK(p.consumed() == msg.size());
    parse_every_way<request_parser>(msg);
}

TEST_CASE("a head in one buffer is handed out without a copy", "[http]") {
    std::string msg = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    auto buf = buffer_of(msg);
    const char* begin = buf.get();
    const char* end = begin + buf.size();
    request_parser p;
    p.feed(std::move(buf));
    REQUIRE(p.next() == parse_event::head_done);
    CHECK((p.target().data() >= begin));
    CHECK((p.target().data() < end));
    CHECK((p.headers().get("host").data() >= begin));
    CHECK(p.framing() == body_framing::content_length);
    CHECK(p.content_length() == 5);
    REQUIRE(p.next() == parse_event::body_data);
    auto body = p.take_body();
    CHECK(body.view() == "hello");
    CHECK((body.get() == begin + msg.size() - 5)); // a slice of the fed buffer (parenthesized: no C-string print)
    CHECK(p.next() == parse_event::message_done);
}

TEST_CASE("a head split across buffers stays valid while its body is read", "[http]") {
    request_parser p;
    p.feed(buffer_of("PUT /a HTTP/1.1\r\nHo"));
    REQUIRE(p.next() == parse_event::need_more);
    p.feed(buffer_of("st: x\r\nContent-Length: 6\r\n\r\nab"));
    REQUIRE(p.next() == parse_event::head_done);
    REQUIRE(p.next() == parse_event::body_data);
    CHECK(p.take_body().view() == "ab");
    REQUIRE(p.next() == parse_event::need_more);
    p.feed(buffer_of("cdef"));
    REQUIRE(p.next() == parse_event::body_data);
    CHECK(p.take_body().view() == "cdef");
    CHECK(p.target() == "/a");
    CHECK(p.headers().get("host") == "x");
    CHECK(p.next() == parse_event::message_done);
}

TEST_CASE("a head that ends with its buffer stays valid after the next buffer is fed", "[http]") {
    request_parser p;
    p.feed(buffer_of("POST /k HTTP/1.1\r\nHost: y\r\nContent-Length: 3\r\n\r\n"));
    REQUIRE(p.next() == parse_event::head_done);
    REQUIRE(p.next() == parse_event::need_more);
    p.feed(buffer_of("xyz"));
    REQUIRE(p.next() == parse_event::body_data);
    CHECK(p.take_body().view() == "xyz");
    CHECK(p.target() == "/k");
    CHECK(p.headers().get("Host") == "y");
    CHECK(p.next() == parse_event::message_done);
}

TEST_CASE("a head whose lines end with their buffers is gathered correctly", "[http]") {
    request_parser p;
    auto o = parse_pieces(p, {"GET /x HTTP/1.1\r\n", "Host: a\r\n", "B: c\r\n", "\r\n"});
    CHECK(o.dump ==
          "request GET [GET] /x 1.1 keep-alive framing=none length=0\n  Host: <a>\n  B: <c>\ndone\nend\n");
}

TEST_CASE("valid requests parse the same cut at every point", "[http]") {
    struct row {
        const char* name;
        std::string msg;
        std::string expected;
    };
    std::vector<row> rows = {
        {"GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
         "request GET [GET] / 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\nend\n"},
        {"POST with Content-Length", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
         "request POST [POST] /p 1.1 keep-alive framing=length length=11\n  Host: <a>\n  Content-Length: "
         "<11>\n"
         "  body <hello world>\ndone\nend\n"},
        {"chunked with extensions and trailers",
         "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5;name=value;q=\"x y\"\r\nhello\r\n6 ; ext\r\n world\r\nA\r\n0123456789\r\n0\r\nTrailer-One: "
         "1\r\nT2:two \r\n\r\n",
         "request POST [POST] /c 1.1 keep-alive framing=chunked length=0\n  Host: <a>\n"
         "  Transfer-Encoding: <chunked>\n  body <hello world0123456789>\n  trailer Trailer-One: <1>\n"
         "  trailer T2: <two>\ndone\nend\n"},
        {"chunked without trailers, upper-case hex, leading zeros",
         "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n00B\r\nhello world\r\n000\r\n\r\n",
         "request POST [POST] /c 1.1 keep-alive framing=chunked length=0\n  Host: <a>\n"
         "  Transfer-Encoding: <Chunked>\n  body <hello world>\ndone\nend\n"},
        {"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
         "request GET [GET] / 1.0 keep-alive framing=none length=0\n  Connection: <Keep-Alive>\ndone\nend\n"},
        {"HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n",
         "request GET [GET] / 1.0 close framing=none length=0\ndone\nend\n"},
        {"HTTP/1.1 Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
         "request GET [GET] / 1.1 close framing=none length=0\n  Host: <a>\n  Connection: <foo, "
         "close>\ndone\nend\n"},
        {"HEAD", "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n",
         "request HEAD [HEAD] /h 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\nend\n"},
        {"Expect: 100-continue",
         "PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok",
         "request PUT [PUT] /u expect-continue 1.1 keep-alive framing=length length=2\n  Host: <a>\n"
         "  Expect: <100-Continue>\n  Content-Length: <2>\n  body <ok>\ndone\nend\n"},
        {"Expect ignored in HTTP/1.0", "PUT /u HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
         "request PUT [PUT] /u 1.0 close framing=none length=0\n  Expect: <100-continue>\ndone\nend\n"},
        {"pipelined",
         "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET "
         "/3 HTTP/1.1\r\nHost: a\r\n\r\n",
         "request GET [GET] /1 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\n"
         "request POST [POST] /2 1.1 keep-alive framing=length length=3\n  Host: <a>\n  Content-Length: "
         "<3>\n  body <abc>\ndone\n"
         "request GET [GET] /3 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\nend\n"},
        {"empty lines before a request line",
         "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
         "request GET [GET] / 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\n"
         "request GET [GET] /b 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\nend\n"},
        {"identical repeated Content-Length",
         "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 3, 3\r\n\r\nxyz",
         "request POST [POST] / 1.1 keep-alive framing=length length=3\n  Host: <a>\n  Content-Length: <3>\n"
         "  content-length: <3, 3>\n  body <xyz>\ndone\nend\n"},
        {"Content-Length 0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
         "request POST [POST] / 1.1 keep-alive framing=length length=0\n  Host: <a>\n  Content-Length: "
         "<0>\ndone\nend\n"},
        {"extension and lower-case methods",
         "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\nget /y HTTP/1.1\r\nHost: a\r\n\r\n",
         "request PURGE [] /x 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\n"
         "request get [] /y 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\nend\n"},
        {"absolute form, asterisk form, authority form",
         "GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: "
         "a\r\n\r\n"
         "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
         "request GET [GET] http://example.com/x?y 1.1 keep-alive framing=none length=0\n  Host: "
         "<example.com>\ndone\n"
         "request OPTIONS [OPTIONS] * 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\n"
         "request CONNECT [CONNECT] example.com:443 1.1 keep-alive framing=none length=0\n  Host: "
         "<example.com:443>\n"
         "done\nend\n"},
        {"HTTP/1.9 is read as 1.1", "GET / HTTP/1.9\r\nHost: a\r\n\r\n",
         "request GET [GET] / 1.1 keep-alive framing=none length=0\n  Host: <a>\ndone\nend\n"},
        {"obs-text, tabs and inner spaces in values",
         "GET / HTTP/1.1\r\nHost: a\r\nX: \t caf\xc3\xa9 \"q\"\tz \t\r\n\r\n",
         "request GET [GET] / 1.1 keep-alive framing=none length=0\n  Host: <a>\n  X: <caf\xc3\xa9 "
         "\"q\"\tz>\ndone\nend\n"},
        {"Connection: upgrade",
         "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
         "request GET [GET] /ws 1.1 keep-alive upgrade framing=none length=0\n  Host: <a>\n"
         "  Connection: <keep-alive, Upgrade>\n  Upgrade: <websocket>\ndone\nend\n"},
        {"a body across a chunk of many pieces",
         "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: "
         "chunked\r\n\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
         "request POST [POST] / 1.1 keep-alive framing=chunked length=0\n  Host: <a>\n"
         "  transfer-encoding: <chunked>\n  body <abcdefghijklmnopqrstuvwxyz>\ndone\nend\n"},
        {"Transfer-Encoding list over two lines",
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "request POST [POST] / 1.1 keep-alive framing=chunked length=0\n  Host: <a>\n"
         "  Transfer-Encoding: <,>\n  Transfer-Encoding: <chunked>\ndone\nend\n"},
    };
    for (auto& r : rows) {
        SECTION(r.name) {
            auto o = parse_every_way<request_parser>(r.msg);
            CHECK(o.dump == r.expected);
        }
    }
}

TEST_CASE("ambiguous or malformed requests are refused with the status to answer", "[http]") {
    struct row {
        const char* name;
        std::string msg;
        std::uint16_t status;
    };
    const std::string get = "GET / HTTP/1.1\r\nHost: a\r\n";
    const std::string post = "POST / HTTP/1.1\r\nHost: a\r\n";
    std::vector<row> rows = {
        // Framing.
        {"both Content-Length and Transfer-Encoding",
         post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"Transfer-Encoding then Content-Length",
         post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
        {"differing Content-Length lines", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
        {"differing Content-Length list", post + "Content-Length: 3, 4\r\n\r\nabcd", 400},
        {"Content-Length not a number", post + "Content-Length: abc\r\n\r\n", 400},
        {"Content-Length negative", post + "Content-Length: -1\r\n\r\n", 400},
        {"Content-Length with a sign", post + "Content-Length: +1\r\n\r\nx", 400},
        {"Content-Length empty", post + "Content-Length:\r\n\r\n", 400},
        {"Content-Length only commas", post + "Content-Length: ,\r\n\r\n", 400},
        {"Content-Length two numbers without comma", post + "Content-Length: 1 1\r\n\r\nx", 400},
        {"Content-Length hexadecimal", post + "Content-Length: 0x10\r\n\r\n", 400},
        {"Content-Length overflows", post + "Content-Length: 18446744073709551616\r\n\r\n", 400},
        {"Transfer-Encoding without chunked", post + "Transfer-Encoding: gzip\r\n\r\n", 400},
        {"chunked not last", post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400},
        {"chunked not last over two lines",
         post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"chunked twice", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
        {"identity", post + "Transfer-Encoding: identity\r\n\r\n", 400},
        {"empty Transfer-Encoding", post + "Transfer-Encoding:\r\n\r\n", 400},
        {"unknown coding before chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
        {"chunked with a parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400},
        {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400},
        // Chunks.
        {"chunk size not hex", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"chunk size missing", post + "Transfer-Encoding: chunked\r\n\r\n\r\n", 400},
        {"chunk size with 0x", post + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400},
        {"chunk size overflows", post + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400},
        {"chunk size with a sign", post + "Transfer-Encoding: chunked\r\n\r\n-5\r\n", 400},
        {"space inside chunk size", post + "Transfer-Encoding: chunked\r\n\r\n5 5\r\n", 400},
        {"chunk data without CRLF", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 400},
        {"chunk data with LF only", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400},
        {"chunk-size line with bare LF", post + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
         400},
        {"chunk-size line with CR only", post + "Transfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n",
         400},
        {"control character in chunk extension",
         post + "Transfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 400},
        {"last chunk with bare LF", post + "Transfer-Encoding: chunked\r\n\r\n0\n\r\n", 400},
        {"trailer with bare LF", post + "Transfer-Encoding: chunked\r\n\r\n0\r\nT: 1\n\r\n", 400},
        {"trailer with whitespace before colon",
         post + "Transfer-Encoding: chunked\r\n\r\n0\r\nT : 1\r\n\r\n", 400},
        // Line endings.
        {"bare LF after the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
        {"bare LF after a field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
        {"bare LF ending the head", get + "\n", 400},
        {"bare CR inside the request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"bare CR inside a value", get + "X: a\rb\r\n\r\n", 400},
        {"bare LF as the first line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        // Fields.
        {"space before the colon", get + "Foo : bar\r\n\r\n", 400},
        {"tab before the colon", get + "Foo\t: bar\r\n\r\n", 400},
        {"obs-fold", get + "Foo: bar\r\n baz\r\n\r\n", 400},
        {"obs-fold with a tab", get + "Foo: bar\r\n\tbaz\r\n\r\n", 400},
        {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
        {"invalid character in a field name", get + "Fo@o: bar\r\n\r\n", 400},
        {"non-ASCII in a field name", get + "Fo\xc3\xa9: bar\r\n\r\n", 400},
        {"empty field name", get + ": bar\r\n\r\n", 400},
        {"no colon", get + "Foo\r\n\r\n", 400},
        {"NUL in a value", get + std::string("X: a\0b\r\n\r\n", 10), 400},
        {"DEL in a value",
         get + "X: a\x7f"
               "b\r\n\r\n",
         400},
        {"escape in a value",
         get + "X: a\x1b"
               "b\r\n\r\n",
         400},
        {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
        {"two Host fields", get + "Host: b\r\n\r\n", 400},
        {"two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400},
        // Request line.
        {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
        {"two-digit minor version", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
        {"missing version", "GET /\r\nHost: a\r\n\r\n", 400},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
        {"two spaces after the method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"two spaces before the version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"tab as separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"trailing space after the version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
        {"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"invalid character in the method", "G(ET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"fragment in the target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"non-ASCII in the target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"control character in the target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"CONNECT with an origin form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"a status line sent as a request", "HTTP/1.1 200 OK\r\n\r\n", 400},
        {"connection closed inside the head", "GET / HTTP/1.1\r\nHost: a\r\n", 400},
        {"connection closed inside the body", post + "Content-Length: 10\r\n\r\nabc", 400},
        {"connection closed inside a chunk", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nab", 400},
        {"connection closed before the last chunk", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
         400},
        {"connection closed inside the trailers", post + "Transfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n",
         400},
    };
    for (auto& r : rows) {
        SECTION(r.name) {
            auto o = parse_every_way<request_parser>(r.msg);
            INFO(o.dump);
            CHECK(o.status == r.status);
            CHECK(o.messages == 0);
        }
    }
}

TEST_CASE("limits are enforced to the byte with their statuses", "[http]") {
    parser_limits small;
    small.max_start_line = 64;
    small.max_header_bytes = 128;
    small.max_header_count = 4;
    small.max_body_size = 10;
    small.max_chunk_line = 16;

    SECTION("a request line of exactly the limit passes; one more byte is 414") {
        // "GET " + target + " HTTP/1.1\r\n" = 4 + t + 11.
        std::string target = "/" + std::string(64 - 15 - 1, 'a');
        auto ok = parse_every_way<request_parser>("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n", small);
        CHECK(ok.status == 0);
        CHECK(ok.messages == 1);
        auto bad = parse_every_way<request_parser>("GET " + target + "a HTTP/1.1\r\nHost: a\r\n\r\n", small);
        CHECK(bad.status == 414);
    }
    SECTION("a long target without its line end is 414 as soon as the limit is passed") {
        request_parser p(small);
        p.feed(buffer_of("GET /" + std::string(100, 'a')));
        CHECK(p.next() == parse_event::error);
        CHECK(p.error().status == 414);
    }
    SECTION("a long method is 400, not 414") {
        auto o = parse_every_way<request_parser>(std::string(80, 'G') + " / HTTP/1.1\r\n\r\n", small);
        CHECK(o.status == 400);
    }
    SECTION("a long version is 400") {
        auto o = parse_every_way<request_parser>("GET / HTTP/1.1" + std::string(60, 'x') + "\r\n\r\n", small);
        CHECK(o.status == 400);
    }
    SECTION("empty lines before the request line count against it") {
        std::string crlfs;
        for (int i = 0; i < 30; ++i) {
            crlfs += "\r\n";
        }
        CHECK(parse_every_way<request_parser>(crlfs + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", small).status ==
              400);
    }
    SECTION("a header section of exactly the limit passes; one more byte is 431") {
        // Header lines + final CRLF = 128: "Host: a\r\n" (9) + "X: " + v + "\r\n" (5 + v) + 2.
        std::string v(128 - 9 - 5 - 2, 'v');
        auto ok = parse_every_way<request_parser>("GET / HTTP/1.1\r\nHost: a\r\nX: " + v + "\r\n\r\n", small);
        CHECK(ok.messages == 1);
        auto bad =
            parse_every_way<request_parser>("GET / HTTP/1.1\r\nHost: a\r\nX: " + v + "v\r\n\r\n", small);
        CHECK(bad.status == 431);
    }
    SECTION("a 2 MB field is refused with 431 without buffering it") {
        request_parser p;
        p.feed(buffer_of("GET / HTTP/1.1\r\nHost: a\r\nX: "));
        CHECK(p.next() == parse_event::need_more);
        std::string big(64 * 1024, 'x');
        parse_event ev = parse_event::need_more;
        for (int i = 0; i < 32 && ev == parse_event::need_more; ++i) {
            p.feed(buffer_of(big));
            ev = p.next();
        }
        CHECK(ev == parse_event::error);
        CHECK(p.error().status == 431);
        CHECK(p.consumed() <= 16 * 1024 + 64);
    }
    SECTION("the field count limit is exact") {
        auto ok = parse_every_way<request_parser>("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\n\r\n",
                                                  small);
        CHECK(ok.messages == 1);
        auto bad = parse_every_way<request_parser>(
            "GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\nD: 3\r\nE: 4\r\n\r\n", small);
        CHECK(bad.status == 431);
    }
    SECTION("the default field count is 100") {
        std::string msg = "GET / HTTP/1.1\r\nHost: a\r\n";
        for (int i = 1; i < 100; ++i) {
            msg += "F: x\r\n";
        }
        request_parser p;
        p.feed(buffer_of(msg + "\r\n"));
        CHECK(p.next() == parse_event::head_done);
        request_parser q;
        q.feed(buffer_of(msg + "F: x\r\n\r\n"));
        CHECK(q.next() == parse_event::error);
        CHECK(q.error().status == 431);
    }
    SECTION("a Content-Length above the body limit is 413 before any body byte") {
        request_parser p(small);
        p.feed(buffer_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"));
        CHECK(p.next() == parse_event::error);
        CHECK(p.error().status == 413);
        auto ok = parse_every_way<request_parser>(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", small);
        CHECK(ok.messages == 1);
    }
    SECTION("chunks adding up above the body limit are 413") {
        auto ok = parse_every_way<request_parser>(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
            "chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
            small);
        CHECK(ok.messages == 1);
        auto bad = parse_every_way<request_parser>(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
            "chunked\r\n\r\n5\r\nhello\r\n6\r\nworlds\r\n0\r\n\r\n",
            small);
        CHECK(bad.status == 413);
        auto huge = parse_every_way<request_parser>(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffff\r\n", small);
        CHECK(huge.status == 413);
    }
    SECTION("a chunk-size line above its limit is 400") {
        auto ok = parse_every_way<request_parser>(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
            "chunked\r\n\r\n1;abcdefghijkl\r\nx\r\n0\r\n\r\n",
            small);
        CHECK(ok.messages == 1);
        auto bad = parse_every_way<request_parser>(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
            "chunked\r\n\r\n1;abcdefghijklm\r\nx\r\n0\r\n\r\n",
            small);
        CHECK(bad.status == 400);
    }
    SECTION("trailers have their own budget and count") {
        auto bad = parse_every_way<request_parser>(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: "
            "4\r\nE: 5\r\n\r\n",
            small);
        CHECK(bad.status == 431);
        auto big = parse_every_way<request_parser>(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: " +
                std::string(200, 'a') + "\r\n\r\n",
            small);
        CHECK(big.status == 431);
    }
}

TEST_CASE("pipelined requests leave the next request buffered after message_done", "[http]") {
    std::string one = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    std::string two = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    request_parser p;
    p.feed(buffer_of(one + two + "GET /3"));
    REQUIRE(p.next() == parse_event::head_done);
    CHECK(p.target() == "/1");
    REQUIRE(p.next() == parse_event::message_done);
    CHECK(p.buffered() == two.size() + 6);
    CHECK(p.consumed() == one.size());
    REQUIRE(p.next() == parse_event::head_done);
    CHECK(p.target() == "/2");
    REQUIRE(p.next() == parse_event::message_done);
    auto rest = p.release_unconsumed();
    CHECK(rest.view() == "GET /3");
    CHECK(p.buffered() == 0);
}

TEST_CASE("sixteen pipelined requests in one buffer parse without a copy", "[http]") {
    std::string msg;
    for (int i = 0; i < 16; ++i) {
        msg +=
            "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/plain\r\nConnection: "
            "keep-alive\r\n\r\n";
    }
    auto buf = buffer_of(msg);
    const char* begin = buf.get();
    request_parser p;
    p.feed(std::move(buf));
    int n = 0;
    for (parse_event ev; (ev = p.next()) != parse_event::need_more;) {
        REQUIRE(ev != parse_event::error);
        if (ev == parse_event::head_done) {
            CHECK(p.target() == "/plaintext");
            CHECK((p.target().data() >= begin));
            CHECK((p.target().data() < begin + msg.size()));
            ++n;
        }
    }
    CHECK(n == 16);
}

TEST_CASE("the end of the stream ends cleanly only between messages", "[http]") {
    request_parser p;
    p.feed_eof();
    CHECK(p.next() == parse_event::end);
    CHECK(p.next() == parse_event::end);
    request_parser q;
    q.feed(buffer_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK(q.next() == parse_event::head_done);
    CHECK(q.next() == parse_event::message_done);
    CHECK(q.next() == parse_event::need_more);
    q.feed_eof();
    CHECK(q.next() == parse_event::end);
    request_parser r;
    r.feed(buffer_of("GET / HT"));
    CHECK(r.next() == parse_event::need_more);
    r.feed_eof();
    CHECK(r.next() == parse_event::error);
    CHECK(r.error().status == 400);
    CHECK_FALSE(r.keep_alive());
    CHECK(r.next() == parse_event::error);
}

TEST_CASE("reset starts over with the same limits", "[http]") {
    parser_limits l;
    l.max_header_count = 1;
    request_parser p(l);
    p.feed(buffer_of("GET / HTTP/1.1\r\nHost: a\r\nB: c\r\n\r\n"));
    CHECK(p.next() == parse_event::error);
    p.reset();
    CHECK_FALSE(p.error());
    p.feed(buffer_of("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK(p.next() == parse_event::head_done);
    CHECK(p.target() == "/x");
    CHECK(p.limits().max_header_count == 1);
}

TEST_CASE("an untaken body piece is dropped and the message still completes", "[http]") {
    request_parser p;
    p.feed(buffer_of(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\nHost: b\r\n\r\n"));
    CHECK(p.next() == parse_event::head_done);
    CHECK(p.next() == parse_event::body_data);
    CHECK(p.next() == parse_event::message_done);
    CHECK(p.next() == parse_event::head_done);
    CHECK(p.headers().get("host") == "b");
}

TEST_CASE("responses are framed by status, request method and fields", "[http]") {
    struct row {
        const char* name;
        std::string msg;
        method request_method;
        std::string expected;
    };
    std::vector<row> rows = {
        {"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", method::get,
         "response 200 'OK' 1.1 keep-alive framing=length length=5\n  Content-Length: <5>\n  body "
         "<hello>\ndone\nend\n"},
        {"chunked with trailers",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
         method::get,
         "response 200 'OK' 1.1 keep-alive framing=chunked length=0\n  Transfer-Encoding: <chunked>\n  body "
         "<abc>\n"
         "  trailer X-Sum: <1>\ndone\nend\n"},
        {"until close", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this until the end", method::get,
         "response 200 'OK' 1.1 close framing=close length=0\n  Server: <x>\n  body <all of this until the "
         "end>\ndone\nend\n"},
        {"until close with no body", "HTTP/1.0 200 OK\r\n\r\n", method::get,
         "response 200 'OK' 1.0 close framing=close length=0\ndone\nend\n"},
        {"204 ignores Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", method::get,
         "response 204 'No Content' 1.1 keep-alive framing=none length=5\n  Content-Length: "
         "<5>\ndone\nend\n"},
        {"304 has no body", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", method::get,
         "response 304 'Not Modified' 1.1 keep-alive framing=none length=0\n  ETag: <\"x\">\ndone\nend\n"},
        {"100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
         method::put,
         "response 100 'Continue' 1.1 keep-alive framing=none length=0\ndone\n"
         "response 200 'OK' 1.1 keep-alive framing=length length=2\n  Content-Length: <2>\n  body "
         "<ok>\ndone\nend\n"},
        {"HEAD response with Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", method::head,
         "response 200 'OK' 1.1 keep-alive framing=none length=1234\n  Content-Length: <1234>\ndone\nend\n"},
        {"HEAD response with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method::head,
         "response 200 'OK' 1.1 keep-alive framing=none length=0\n  Transfer-Encoding: "
         "<chunked>\ndone\nend\n"},
        {"CONNECT 200 is a tunnel", "HTTP/1.1 200 Connection established\r\n\r\n", method::connect,
         "response 200 'Connection established' 1.1 keep-alive framing=none length=0\ndone\nend\n"},
        {"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
         method::get,
         "response 200 'OK' 1.0 keep-alive framing=length length=1\n  Connection: <keep-alive>\n"
         "  Content-Length: <1>\n  body <x>\ndone\nend\n"},
        {"no reason phrase", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", method::get,
         "response 404 '' 1.1 keep-alive framing=length length=0\n  Content-Length: <0>\ndone\nend\n"},
        {"empty reason phrase", "HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n", method::get,
         "response 500 '' 1.1 keep-alive framing=length length=0\n  Content-Length: <0>\ndone\nend\n"},
        {"keep-alive responses in a row",
         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nb",
         method::post,
         "response 200 'OK' 1.1 keep-alive framing=length length=1\n  Content-Length: <1>\n  body <a>\ndone\n"
         "response 201 'Created' 1.1 keep-alive framing=length length=1\n  Content-Length: <1>\n  body "
         "<b>\ndone\nend\n"},
    };
    for (auto& r : rows) {
        SECTION(r.name) {
            auto o = parse_every_way<response_parser>(r.msg, {}, r.request_method);
            CHECK(o.dump == r.expected);
        }
    }
}

TEST_CASE("malformed responses are refused", "[http]") {
    struct row {
        const char* name;
        std::string msg;
        std::uint16_t status;
    };
    std::vector<row> rows = {
        {"both Content-Length and Transfer-Encoding",
         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"differing Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 2\r\n\r\nabc",
         400},
        {"gzip transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
        {"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 505},
        {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 400},
        {"status starting with 0", "HTTP/1.1 099 X\r\n\r\n", 400},
        {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 400},
        {"no space after version", "HTTP/1.1200 OK\r\n\r\n", 400},
        {"lower-case protocol", "http/1.1 200 OK\r\n\r\n", 400},
        {"control character in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 400},
        {"empty line before the status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", 400},
        {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 400},
        {"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 400},
        {"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n", 400},
        {"closed inside the body", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 400},
    };
    for (auto& r : rows) {
        SECTION(r.name) {
            auto o = parse_every_way<response_parser>(r.msg);
            INFO(o.dump);
            CHECK(o.status == r.status);
            CHECK(o.messages == 0);
        }
    }
}

TEST_CASE("a response body until close respects the body limit", "[http]") {
    parser_limits l;
    l.max_body_size = 8;
    auto ok = parse_every_way<response_parser>("HTTP/1.1 200 OK\r\n\r\n12345678", l);
    CHECK(ok.messages == 1);
    auto bad = parse_every_way<response_parser>("HTTP/1.1 200 OK\r\n\r\n123456789", l);
    CHECK(bad.status == 413);
}

TEST_CASE("a long status line is 400", "[http]") {
    parser_limits l;
    l.max_start_line = 32;
    auto o = parse_every_way<response_parser>("HTTP/1.1 200 " + std::string(40, 'r') + "\r\n\r\n", l);
    CHECK(o.status == 400);
}

TEST_CASE("release_unconsumed hands over the bytes after a switch of protocols", "[http]") {
    response_parser p;
    p.feed(
        buffer_of("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                  "Upgrade\r\n\r\n\x81\x05hello"));
    REQUIRE(p.next() == parse_event::head_done);
    CHECK(p.status() == 101);
    CHECK(p.connection_upgrade());
    REQUIRE(p.next() == parse_event::message_done);
    auto rest = p.release_unconsumed();
    CHECK(rest.view() == "\x81\x05hello");
    CHECK(p.headers().get("upgrade") == "websocket");  // the head is still valid
}

TEST_CASE("a moved parser keeps parsing where it was", "[http]") {
    request_parser p;
    p.feed(buffer_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nx"));
    REQUIRE(p.next() == parse_event::head_done);
    request_parser q = std::move(p);
    CHECK(q.headers().get("host") == "a");
    REQUIRE(q.next() == parse_event::body_data);
    CHECK(q.take_body().view() == "x");
    REQUIRE(q.next() == parse_event::need_more);
    q.feed(buffer_of("y"));
    REQUIRE(q.next() == parse_event::body_data);
    CHECK(q.next() == parse_event::message_done);
}
