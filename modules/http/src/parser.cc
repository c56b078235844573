// The HTTP/1.1 parser (RFC 9112). The head is read line by line: memchr finds the LF,
// then one pass validates the line; a line cut by the end of a buffer sends the whole
// head into the arena. Bodies are handed out as slices of the input. Every refusal
// names the status a server answers with.
#include <reef/http/parser.hh>

#include <array>
#include <cassert>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace reef::http {

namespace {

// What a stage function returns when it moved to another stage and next() should go on.
constexpr auto again = static_cast<parse_event>(255);

// tchar (RFC 9110 §5.6.2): the characters of a token.
constexpr std::array<bool, 256> make_token_table() {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) {
        t[c] = true;
    }
    for (int c = 'a'; c <= 'z'; ++c) {
        t[c] = true;
        t[c - 'a' + 'A'] = true;
    }
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
        t[static_cast<unsigned char>(c)] = true;
    }
    return t;
}
constexpr auto token_table = make_token_table();

inline bool is_token_char(char c) noexcept {
    return token_table[static_cast<unsigned char>(c)];
}

// The first character of [p, end) that is not a tchar (end if none).
inline const char* skip_token(const char* p, const char* end) noexcept {
    while (p != end && is_token_char(*p)) {
        ++p;
    }
    return p;
}

// True when [p, p + n) holds only field-value characters: VCHAR, obs-text, SP, HTAB.
inline bool valid_field_chars_scalar(const char* p, std::size_t n) noexcept {
    unsigned char bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        auto c = static_cast<unsigned char>(p[i]);
        bad |= static_cast<unsigned char>(((c < 0x20) & (c != '\t')) | (c == 0x7f));
    }
    return bad == 0;
}

#if defined(__SSE2__)
// Bytes of `v` that may not stand in a field value: controls but HTAB, and DEL.
inline int bad_field_bytes(__m128i v) noexcept {
    __m128i printable = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x20)), v);  // v >= 0x20
    __m128i tab = _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'));
    __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
    return _mm_movemask_epi8(
        _mm_or_si128(_mm_andnot_si128(_mm_or_si128(printable, tab), _mm_set1_epi8(-1)), del));
}

// 16 bytes at a time; the last block overlaps the previous one instead of a scalar tail.
inline bool valid_field_chars(const char* p, std::size_t n) noexcept {
    if (n < 16) {
        return valid_field_chars_scalar(p, n);
    }
    int bad = 0;
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        bad |= bad_field_bytes(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    }
    if (i != n) {
        bad |= bad_field_bytes(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16)));
    }
    return bad == 0;
}
#else
inline bool valid_field_chars(const char* p, std::size_t n) noexcept {
    return valid_field_chars_scalar(p, n);
}
#endif

// The first byte of [p, end) that may not stand in a field value (end if none).
inline const char* find_field_end(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
    for (; end - p >= 16; p += 16) {
        if (int bad = bad_field_bytes(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))) {
            return p + __builtin_ctz(static_cast<unsigned>(bad));
        }
    }
#endif
    for (; p != end; ++p) {
        auto c = static_cast<unsigned char>(*p);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            break;
        }
    }
    return p;
}

// The end of a request target: the first character that is not visible ASCII or is
// '#' (a fragment is not part of a request target, RFC 9112 §3.2).
inline const char* skip_target(const char* p, const char* end) noexcept {
    while (p != end) {
        auto c = static_cast<unsigned char>(*p);
        if (c < 0x21 || c > 0x7e || c == '#') {
            break;
        }
        ++p;
    }
    return p;
}

inline bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view v) noexcept {
    while (!v.empty() && is_ows(v.front())) {
        v.remove_prefix(1);
    }
    while (!v.empty() && is_ows(v.back())) {
        v.remove_suffix(1);
    }
    return v;
}

// Calls fn(element) for each non-empty element of a comma-separated list (RFC 9110
// §5.6.1: empty elements are ignored), OWS trimmed. Stops when fn returns false.
template <typename Fn>
void for_each_list_element(std::string_view list, Fn&& fn) {
    while (!list.empty()) {
        std::size_t comma = list.find(',');
        std::string_view element = trim_ows(list.substr(0, comma));
        if (!element.empty() && !fn(element)) {
            return;
        }
        if (comma == std::string_view::npos) {
            return;
        }
        list.remove_prefix(comma + 1);
    }
}

inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = detail::ascii_lower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

// "HTTP/" DIGIT "." DIGIT, case-sensitive. 0: 1.0; 1: 1.1 (or a later 1.x); -1:
// malformed; -2: a major version other than 1.
int parse_version(const char* p, std::size_t n) noexcept {
    if (n != 8 || std::memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' ||
        p[7] > '9') {
        return -1;
    }
    if (p[5] != '1') {
        return -2;
    }
    return p[7] == '0' ? 0 : 1;
}

struct method_name {
    std::string_view token;
    method id;
};
// Most frequent first: a lookup compares sizes before bytes.
constexpr method_name known_methods[] = {
    {"GET", method::get},     {"POST", method::post},       {"HEAD", method::head},
    {"PUT", method::put},     {"DELETE", method::delete_},  {"OPTIONS", method::options},
    {"PATCH", method::patch}, {"CONNECT", method::connect}, {"TRACE", method::trace},
};

method identify_method(std::string_view m) noexcept {
    for (const auto& k : known_methods) {
        if (m == k.token) {
            return k.id;
        }
    }
    return method::other;
}

// The request-target forms of RFC 9112 §3.2: origin ("/p?q"), absolute ("scheme:..."),
// authority (CONNECT only: "host:port") and asterisk (OPTIONS only: "*").
bool valid_target_form(method m, std::string_view t) noexcept {
    if (m == method::connect) {
        return t[0] != '/' && t != "*" && t.find(':') != std::string_view::npos &&
               t.find('/') == std::string_view::npos;
    }
    if (t[0] == '/') {
        return true;
    }
    if (t == "*") {
        return m == method::options;
    }
    // absolute-form: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":".
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(t[0])) {
        return false;
    }
    for (std::size_t i = 1; i < t.size(); ++i) {
        char c = t[i];
        if (c == ':') {
            return true;
        }
        if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') {
            return false;
        }
    }
    return false;
}

// Content-Length = 1*DIGIT; a list of identical values ("5, 5") is accepted as one
// (RFC 9110 §8.6). False on anything else, or on a value above 2^64 - 1.
bool parse_content_length(std::string_view v, std::uint64_t& out) noexcept {
    bool any = false, ok = true;
    std::uint64_t first = 0;
    for_each_list_element(v, [&](std::string_view e) {
        std::uint64_t n = 0;
        for (char c : e) {
            if (c < '0' || c > '9') {
                ok = false;
                return false;
            }
            auto d = static_cast<std::uint64_t>(c - '0');
            if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
                ok = false;
                return false;
            }
            n = n * 10 + d;
        }
        if (any && n != first) {
            ok = false;
            return false;
        }
        first = n;
        any = true;
        return true;
    });
    // An empty value, or one made only of commas, is no length at all.
    if (!ok || !any || v.find_first_not_of(" \t,0123456789") != std::string_view::npos) {
        return false;
    }
    // Elements must be separated by commas, not by whitespace alone ("1 2").
    for_each_list_element(v, [&](std::string_view e) {
        ok = ok && e.find_first_of(" \t") == std::string_view::npos;
        return ok;
    });
    out = first;
    return ok;
}

}  // namespace

std::string_view to_string(method m) noexcept {
    for (const auto& k : known_methods) {
        if (m == k.id) {
            return k.token;
        }
    }
    return "";
}

message_parser::message_parser(role r, const parser_limits& limits) noexcept : limits_(limits), role_(r) {}

request_parser::request_parser(const parser_limits& limits) : message_parser(role::request, limits) {}

response_parser::response_parser(const parser_limits& limits) : message_parser(role::response, limits) {}

void message_parser::feed(temporary_buffer<char> buf) noexcept {
    assert(in_.empty() && "feed() before every fed byte was used");
    if (buf.empty()) {
        return;
    }
    if (head_in_input_) {
        // The head still points into the old buffer: keep its memory alive.
        held_ = std::move(in_);
        head_in_input_ = false;
    }
    in_ = std::move(buf);
}

void message_parser::feed_eof() noexcept {
    eof_ = true;
}

parse_event message_parser::fail(std::uint16_t status, std::string_view reason) noexcept {
    stage_ = stage::failed;
    error_ = {status, reason};
    keep_alive_ = false;
    return parse_event::error;
}

temporary_buffer<char> message_parser::release_unconsumed() {
    if (head_in_input_ && !in_.empty()) {
        temporary_buffer<char> rest = in_.share();
        consume(in_.size());
        consumed_ -= rest.size();  // released, not consumed
        return rest;
    }
    return std::move(in_);
}

void message_parser::clear_message() noexcept {
    held_ = {};
    body_ = {};
    head_ptr_ = nullptr;
    head_in_arena_ = false;
    head_in_input_ = false;
    head_size_ = 0;
    arena_.clear();
    fields_.clear();
    trailer_arena_.clear();
    trailer_fields_.clear();
    trailer_size_ = 0;
    token_offset_ = token_size_ = target_offset_ = target_size_ = reason_offset_ = reason_size_ = 0;
    method_ = method::get;
    status_ = 0;
    expect_continue_ = false;
    version_ = http_version::http_1_1;
    framing_ = body_framing::none;
    keep_alive_ = true;
    upgrade_ = false;
    conn_close_ = conn_keep_alive_ = false;
    has_content_length_ = has_transfer_encoding_ = false;
    te_chunked_last_ = te_chunked_seen_ = te_unknown_ = te_chunked_twice_ = false;
    host_count_ = 0;
    content_length_ = remaining_ = body_total_ = chunk_size_ = 0;
    chunk_line_size_ = 0;
    chunk_state_ = 0;
}

void message_parser::reset() noexcept {
    clear_message();
    in_ = {};
    stage_ = stage::idle;
    eof_ = false;
    request_method_ = method::get;
    error_ = {};
    consumed_ = 0;
}

void message_parser::begin_message() noexcept {
    clear_message();
    restart_head();
    line_budget_ = static_cast<std::uint32_t>(std::min<std::size_t>(limits_.max_start_line, UINT32_MAX / 4));
    stage_ = stage::start_line;
}

// The head starts again at the front of in_ (a new message, or after an empty line
// before a request line).
void message_parser::restart_head() noexcept {
    held_ = {};
    arena_.clear();
    head_in_arena_ = false;
    head_ptr_ = in_.get();
    head_in_input_ = true;
    head_size_ = 0;
}

parse_event message_parser::next() {
    if (!body_.empty()) {
        body_ = {};
    }
    for (;;) {
        switch (stage_) {
            case stage::idle:
                if (in_.empty()) {
                    if (eof_) {
                        stage_ = stage::ended;
                        return parse_event::end;
                    }
                    return parse_event::need_more;
                }
                begin_message();
                continue;
            case stage::start_line:
            case stage::header_lines:
                return parse_lines(false);
            case stage::body_length:
                if (remaining_ == 0) {
                    stage_ = stage::message_complete;
                    continue;
                }
                if (in_.empty()) {
                    return eof_ ? fail(400, "connection closed inside the body") : parse_event::need_more;
                }
                return take_body_bytes(remaining_);
            case stage::chunk_line:
                if (parse_event ev = parse_chunk_line(); ev != again) {
                    return ev;
                }
                continue;
            case stage::chunk_data:
                if (remaining_ == 0) {
                    stage_ = stage::chunk_data_end;
                    continue;
                }
                if (in_.empty()) {
                    return eof_ ? fail(400, "connection closed inside a chunk") : parse_event::need_more;
                }
                return take_body_bytes(remaining_);
            case stage::chunk_data_end:
                if (parse_event ev = parse_chunk_data_end(); ev != again) {
                    return ev;
                }
                continue;
            case stage::trailer_lines:
                return parse_lines(true);
            case stage::body_until_close:
                if (in_.empty()) {
                    if (eof_) {
                        stage_ = stage::message_complete;
                        continue;
                    }
                    return parse_event::need_more;
                }
                // Up to the limit, then the error: the same wherever the input was cut.
                if (body_total_ == limits_.max_body_size) {
                    return fail(413, "body too large");
                }
                return take_body_bytes(limits_.max_body_size - body_total_);
            case stage::message_complete:
                stage_ = stage::idle;
                return parse_event::message_done;
            case stage::ended:
                return parse_event::end;
            case stage::failed:
                return parse_event::error;
        }
    }
}

parse_event message_parser::take_body_bytes(std::uint64_t max) noexcept {
    std::size_t n = in_.size() <= max ? in_.size() : static_cast<std::size_t>(max);
    if (n == in_.size() && !head_in_input_) {
        // The whole rest of the buffer, which nothing else refers to: hand it over.
        body_ = std::move(in_);
        consumed_ += n;
    } else {
        body_ = in_.share(0, n);
        consume(n);
    }
    remaining_ -= stage_ == stage::body_until_close ? 0 : n;
    body_total_ += n;
    return parse_event::body_data;
}

// Reads complete lines of the head (trailer = false) or of the trailer section and
// hands each to its parser. A line lies in the input when it can (the head only), else
// it is gathered in the section's arena.
parse_event message_parser::parse_lines(bool trailer) {
    detail::byte_arena& arena = trailer ? trailer_arena_ : arena_;
    std::uint32_t& done = trailer ? trailer_size_ : head_size_;
    for (;;) {
        bool in_arena = trailer || head_in_arena_;
        std::size_t partial = in_arena ? arena.size() - done : 0;
        if (in_.empty()) {
            if (!eof_) {
                return parse_event::need_more;
            }
            if (!trailer && stage_ == stage::start_line && done == 0 && partial == 0) {
                stage_ = stage::ended;  // closed between messages (after empty lines at most)
                return parse_event::end;
            }
            return fail(400, trailer ? "connection closed inside the trailer section"
                                     : "connection closed inside the message head");
        }
        if (!in_arena && !head_in_input_) {
            // The buffer the head started in was used up at a line boundary.
            if (done == 0) {
                restart_head();
            } else {
                arena_.clear();
                arena_.append(head_ptr_, done);
                head_in_arena_ = in_arena = true;
                held_ = {};
            }
        }
        if (!in_arena && stage_ == stage::header_lines) {
            parse_event ev;
            if (parse_field_line_fast(ev)) {
                if (ev != parse_event::need_more) {
                    return ev;
                }
                continue;
            }
        }
        const char* p = in_.get();
        std::size_t n = in_.size();
        std::size_t room = line_budget_ - partial;  // partial < line_budget_ always
        const char* lf = static_cast<const char*>(std::memchr(p, '\n', n < room ? n : room));
        if (!lf) {
            if (n >= room) {
                return line_too_long(trailer, p, room);
            }
            // The line goes on in the next buffer: the head moves to the arena.
            if (!in_arena) {
                arena_.clear();
                arena_.append(head_ptr_, done);
                head_in_arena_ = true;
                head_in_input_ = false;
            }
            arena.append(p, n);
            consume(n);
            continue;
        }
        std::size_t take = static_cast<std::size_t>(lf - p) + 1;
        const char* line = p;
        if (in_arena) {
            arena.append(p, take);
            line = arena.data() + done;
        }
        std::size_t size = partial + take;
        std::uint32_t offset = done;
        consume(take);
        done += static_cast<std::uint32_t>(size);
        line_budget_ -= static_cast<std::uint32_t>(size);
        if (size < 2 || line[size - 2] != '\r') {
            return fail(400, "bare LF line ending");
        }
        parse_event ev;
        if (!trailer) {
            ev = on_head_line(line, size - 2, offset);
        } else if (size == 2) {
            stage_ = stage::idle;
            return parse_event::message_done;
        } else if (trailer_fields_.size() >= limits_.max_header_count) {
            return fail(431, "too many trailer fields");
        } else {
            ev = parse_field_line(line, size - 2, offset, true);
        }
        if (ev != parse_event::need_more) {
            return ev;
        }
    }
}

// No LF within the section's budget: the line (with what is buffered of it) is too long.
parse_event message_parser::line_too_long(bool trailer, const char* more, std::size_t more_size) {
    if (trailer) {
        return fail(431, "trailer section too large");
    }
    if (stage_ == stage::header_lines) {
        return fail(431, "header section too large");
    }
    if (role_ == role::response) {
        return fail(400, "status line too long");
    }
    // 414 when the target is what makes the line too long: a method, a space, then
    // either target bytes up to the limit or a target followed by no more than a
    // version's worth of bytes. After skipped empty lines, or for anything else, 400.
    if (line_budget_ != std::min<std::size_t>(limits_.max_start_line, UINT32_MAX / 4)) {
        return fail(400, "request line too long");
    }
    const char* line = more;
    std::size_t size = more_size;
    if (head_in_arena_) {
        arena_.append(more, more_size);  // failing anyway: make the line contiguous
        line = arena_.data() + head_size_;
        size = arena_.size() - head_size_;
    }
    std::string_view l(line, size);
    std::size_t sp1 = l.find(' ');
    if (sp1 == 0 || sp1 == std::string_view::npos || skip_token(line, line + sp1) != line + sp1) {
        return fail(400, "request line too long");
    }
    std::size_t sp2 = l.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || size - sp2 - 1 <= 10) {
        return fail(414, "request target too long");
    }
    return fail(400, "request line too long");
}

parse_event message_parser::on_head_line(const char* line, std::size_t size, std::uint32_t offset) {
    if (stage_ == stage::start_line) {
        if (size == 0) {
            if (role_ == role::response) {
                return fail(400, "empty line before the status line");
            }
            // RFC 9112 §2.2: ignore empty lines before a request line (they count
            // against max_start_line).
            restart_head();
            return parse_event::need_more;
        }
        parse_event ev = role_ == role::request ? parse_request_line(line, size, offset)
                                                : parse_status_line(line, size, offset);
        if (ev != parse_event::need_more) {
            return ev;
        }
        stage_ = stage::header_lines;
        line_budget_ =
            static_cast<std::uint32_t>(std::min<std::size_t>(limits_.max_header_bytes, UINT32_MAX / 4));
        return parse_event::need_more;
    }
    if (size == 0) {
        return finish_head();
    }
    if (fields_.size() >= limits_.max_header_count) {
        return fail(431, "too many header fields");
    }
    return parse_field_line(line, size, offset, false);
}

// request-line = method SP request-target SP HTTP-version (exactly one SP each).
parse_event message_parser::parse_request_line(const char* line, std::size_t size,
                                               std::uint32_t offset) noexcept {
    const char* end = line + size;
    const char* sp1 = skip_token(line, end);
    if (sp1 == line || sp1 == end || *sp1 != ' ') {
        return fail(400, "invalid method");
    }
    const char* target = sp1 + 1;
    const char* sp2 = skip_target(target, end);
    if (sp2 == target) {
        return fail(400, "invalid request target");
    }
    if (sp2 == end || *sp2 != ' ') {
        return fail(400, *sp2 == '#' ? "fragment in request target" : "invalid character in request target");
    }
    int v = parse_version(sp2 + 1, static_cast<std::size_t>(end - sp2 - 1));
    if (v == -1) {
        return fail(400, "invalid HTTP version");
    }
    if (v == -2) {
        return fail(505, "HTTP version not supported");
    }
    version_ = v == 0 ? http_version::http_1_0 : http_version::http_1_1;
    token_offset_ = offset;
    token_size_ = static_cast<std::uint32_t>(sp1 - line);
    target_offset_ = offset + static_cast<std::uint32_t>(target - line);
    target_size_ = static_cast<std::uint32_t>(sp2 - target);
    method_ = identify_method({line, token_size_});
    if (!valid_target_form(method_, {target, target_size_})) {
        return fail(400, "invalid request target");
    }
    return parse_event::need_more;
}

// status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]; the SP after the code may
// be missing when the reason is empty.
parse_event message_parser::parse_status_line(const char* line, std::size_t size,
                                              std::uint32_t offset) noexcept {
    if (size < 12 || line[8] != ' ') {
        return fail(400, "invalid status line");
    }
    int v = parse_version(line, 8);
    if (v == -1) {
        return fail(400, "invalid HTTP version");
    }
    if (v == -2) {
        return fail(505, "HTTP version not supported");
    }
    const char* code = line + 9;
    if (code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9') {
        return fail(400, "invalid status code");
    }
    if (size > 12 && line[12] != ' ') {
        return fail(400, "invalid status line");
    }
    const char* reason = line + (size > 12 ? 13 : 12);
    std::size_t reason_size = size - static_cast<std::size_t>(reason - line);
    if (!valid_field_chars(reason, reason_size)) {
        return fail(400, "invalid character in reason phrase");
    }
    version_ = v == 0 ? http_version::http_1_0 : http_version::http_1_1;
    status_ = static_cast<std::uint16_t>((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
    token_offset_ = offset;
    token_size_ = 8;
    target_offset_ = offset + 9;
    target_size_ = 3;
    reason_offset_ = offset + static_cast<std::uint32_t>(reason - line);
    reason_size_ = static_cast<std::uint32_t>(reason_size);
    return parse_event::need_more;
}

// field-line = field-name ":" OWS field-value OWS. No whitespace before the colon, no
// obs-fold, no control characters but HTAB in the value.
parse_event message_parser::parse_field_line(const char* line, std::size_t size, std::uint32_t offset,
                                             bool trailer) {
    const char* end = line + size;
    if (is_ows(line[0])) {
        return fail(400, "obsolete line folding");
    }
    const char* colon = skip_token(line, end);
    if (colon == end || *colon != ':') {
        if (colon != end && is_ows(*colon)) {
            return fail(400, "whitespace before the colon of a field");
        }
        return fail(400, "invalid character in field name");
    }
    if (colon == line) {
        return fail(400, "empty field name");
    }
    const char* value = colon + 1;
    while (value != end && is_ows(*value)) {
        ++value;
    }
    const char* value_end = end;
    while (value_end != value && is_ows(value_end[-1])) {
        --value_end;
    }
    auto value_size = static_cast<std::size_t>(value_end - value);
    if (!valid_field_chars(value, value_size)) {
        return fail(400, "invalid character in field value");
    }
    detail::field_offsets f{offset, static_cast<std::uint32_t>(colon - line),
                            offset + static_cast<std::uint32_t>(value - line),
                            static_cast<std::uint32_t>(value_size)};
    if (trailer) {
        trailer_fields_.push_back(f);
        return parse_event::need_more;
    }
    fields_.push_back(f);
    return on_framing_field({line, f.name_size}, {value, value_size});
}

// The common case of a field line of the head: whole in the input and well-formed,
// parsed in one pass (no separate search for the LF). Returns false, having changed
// nothing, for anything else (the end of the head, a line cut by the end of the buffer,
// an error, a limit reached): parse_lines() then takes the line the general way.
bool message_parser::parse_field_line_fast(parse_event& ev) {
    const char* line = in_.get();
    const char* end = line + std::min<std::size_t>(in_.size(), line_budget_);
    const char* colon = skip_token(line, end);
    if (colon == line || colon == end || *colon != ':' || fields_.size() >= limits_.max_header_count) {
        return false;
    }
    const char* value = colon + 1;
    while (value != end && is_ows(*value)) {
        ++value;
    }
    const char* stop = find_field_end(value, end);
    if (end - stop < 2 || stop[0] != '\r' || stop[1] != '\n') {
        return false;
    }
    const char* value_end = stop;
    while (value_end != value && is_ows(value_end[-1])) {
        --value_end;
    }
    auto size = static_cast<std::uint32_t>(stop + 2 - line);
    detail::field_offsets f{head_size_, static_cast<std::uint32_t>(colon - line),
                            head_size_ + static_cast<std::uint32_t>(value - line),
                            static_cast<std::uint32_t>(value_end - value)};
    fields_.push_back(f);
    consume(size);
    head_size_ += size;
    line_budget_ -= size;
    ev = on_framing_field({line, f.name_size}, {value, f.value_size});
    return true;
}

// Notes what the fields that decide framing and connection handling say.
parse_event message_parser::on_framing_field(std::string_view name, std::string_view value) noexcept {
    switch (name.size()) {
        case 4:
            if (detail::ascii_iequals(name, "host") && host_count_ < 255) {
                ++host_count_;
            }
            break;
        case 6:
            if (detail::ascii_iequals(name, "expect") && detail::ascii_iequals(value, "100-continue")) {
                expect_continue_ = true;
            }
            break;
        case 10:
            if (detail::ascii_iequals(name, "connection")) {
                for_each_list_element(value, [this](std::string_view e) {
                    if (detail::ascii_iequals(e, "close")) {
                        conn_close_ = true;
                    } else if (detail::ascii_iequals(e, "keep-alive")) {
                        conn_keep_alive_ = true;
                    } else if (detail::ascii_iequals(e, "upgrade")) {
                        upgrade_ = true;
                    }
                    return true;
                });
            }
            break;
        case 14:
            if (detail::ascii_iequals(name, "content-length")) {
                std::uint64_t n = 0;
                if (!parse_content_length(value, n)) {
                    return fail(400, "invalid Content-Length");
                }
                if (has_content_length_ && n != content_length_) {
                    return fail(400, "differing Content-Length values");
                }
                has_content_length_ = true;
                content_length_ = n;
            }
            break;
        case 17:
            if (detail::ascii_iequals(name, "transfer-encoding")) {
                has_transfer_encoding_ = true;
                for_each_list_element(value, [this](std::string_view coding) {
                    bool chunked = detail::ascii_iequals(coding, "chunked");
                    te_chunked_twice_ = te_chunked_twice_ || (chunked && te_chunked_seen_);
                    te_chunked_seen_ = te_chunked_seen_ || chunked;
                    te_unknown_ = te_unknown_ || !chunked;
                    te_chunked_last_ = chunked;
                    return true;
                });
            }
            break;
        default:
            break;
    }
    return parse_event::need_more;
}

// The head is complete: decide the framing of the body (RFC 9112 §6.3).
parse_event message_parser::finish_head() noexcept {
    parse_event ev = role_ == role::request ? finish_request_head() : finish_response_head();
    if (ev == parse_event::error) {
        return ev;
    }
    switch (framing_) {
        case body_framing::none:
            stage_ = stage::message_complete;
            break;
        case body_framing::content_length:
            remaining_ = content_length_;
            stage_ = stage::body_length;
            break;
        case body_framing::chunked:
            stage_ = stage::chunk_line;
            break;
        case body_framing::until_close:
            stage_ = stage::body_until_close;
            keep_alive_ = false;
            break;
    }
    return parse_event::head_done;
}

parse_event message_parser::finish_request_head() noexcept {
    bool http10 = version_ == http_version::http_1_0;
    if (host_count_ > 1) {
        return fail(400, "more than one Host field");
    }
    if (!http10 && host_count_ == 0) {
        return fail(400, "HTTP/1.1 request without Host");
    }
    keep_alive_ = http10 ? conn_keep_alive_ && !conn_close_ : !conn_close_;
    expect_continue_ = expect_continue_ && !http10;  // RFC 9110 §10.1.1: ignored in 1.0
    if (has_transfer_encoding_) {
        if (http10) {
            return fail(400, "Transfer-Encoding in an HTTP/1.0 message");
        }
        if (has_content_length_) {
            return fail(400, "both Content-Length and Transfer-Encoding");
        }
        if (!te_chunked_last_ || te_chunked_twice_) {
            return fail(400, "chunked is not the final transfer coding");
        }
        if (te_unknown_) {
            return fail(501, "unsupported transfer coding");
        }
        framing_ = body_framing::chunked;
    } else if (has_content_length_) {
        if (content_length_ > limits_.max_body_size) {
            return fail(413, "body too large");
        }
        framing_ = body_framing::content_length;
    }
    return parse_event::head_done;
}

parse_event message_parser::finish_response_head() noexcept {
    bool http10 = version_ == http_version::http_1_0;
    keep_alive_ = http10 ? conn_keep_alive_ && !conn_close_ : !conn_close_;
    // RFC 9112 §6.3 rules 1 and 2: these responses end with their head, whatever
    // their fields say.
    if (status_ < 200 || status_ == 204 || status_ == 304 || request_method_ == method::head ||
        (request_method_ == method::connect && status_ < 300)) {
        return parse_event::head_done;
    }
    if (has_transfer_encoding_) {
        if (http10) {
            return fail(400, "Transfer-Encoding in an HTTP/1.0 message");
        }
        if (has_content_length_) {
            return fail(400, "both Content-Length and Transfer-Encoding");
        }
        if (te_chunked_twice_) {
            return fail(400, "chunked is not the final transfer coding");
        }
        // We never ask for other codings (no TE field), so a body in one cannot be read.
        if (te_unknown_ || !te_chunked_last_) {
            return fail(501, "unsupported transfer coding");
        }
        framing_ = body_framing::chunked;
    } else if (has_content_length_) {
        if (content_length_ > limits_.max_body_size) {
            return fail(413, "body too large");
        }
        framing_ = body_framing::content_length;
    } else {
        framing_ = body_framing::until_close;
    }
    return parse_event::head_done;
}

// chunk-size [ chunk-ext ] CRLF, byte by byte (the line is short and may be split
// anywhere). chunk_state_: 0 size digits, 1 whitespace after the size, 2 extension,
// 3 after the CR.
parse_event message_parser::parse_chunk_line() noexcept {
    for (;;) {
        if (in_.empty()) {
            return eof_ ? fail(400, "connection closed inside a chunk-size line") : parse_event::need_more;
        }
        const char* p = in_.get();
        std::size_t n = in_.size();
        for (std::size_t i = 0; i < n; ++i) {
            char c = p[i];
            if (++chunk_line_size_ > limits_.max_chunk_line) {
                return fail(400, "chunk-size line too long");
            }
            switch (chunk_state_) {
                case 0:
                    if (int h = hex_value(c); h >= 0) {
                        if (chunk_size_ > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
                            return fail(400, "chunk size overflows");
                        }
                        chunk_size_ = chunk_size_ * 16 + static_cast<std::uint64_t>(h);
                        continue;
                    }
                    if (chunk_line_size_ == 1) {
                        return fail(400, "invalid chunk size");
                    }
                    if (c == '\r') {
                        chunk_state_ = 3;
                    } else if (c == ';') {
                        chunk_state_ = 2;
                    } else if (is_ows(c)) {
                        chunk_state_ = 1;
                    } else {
                        return fail(400, c == '\n' ? "bare LF line ending" : "invalid chunk size");
                    }
                    continue;
                case 1:
                    // BWS is allowed only before a ";" that starts an extension.
                    if (c == ';') {
                        chunk_state_ = 2;
                    } else if (!is_ows(c)) {
                        return fail(400, "invalid chunk extension");
                    }
                    continue;
                case 2:
                    if (c == '\r') {
                        chunk_state_ = 3;
                    } else if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
                        return fail(400, c == '\n' ? "bare LF line ending" : "invalid chunk extension");
                    }
                    continue;
                default:
                    if (c != '\n') {
                        return fail(400, "CR without LF in a chunk-size line");
                    }
                    break;
            }
            // The line is complete.
            consume(i + 1);
            std::uint64_t size = chunk_size_;
            chunk_size_ = 0;
            chunk_line_size_ = 0;
            chunk_state_ = 0;
            if (size == 0) {
                stage_ = stage::trailer_lines;
                line_budget_ = static_cast<std::uint32_t>(
                    std::min<std::size_t>(limits_.max_header_bytes, UINT32_MAX / 4));
                return again;
            }
            if (size > limits_.max_body_size - body_total_) {
                return fail(413, "body too large");
            }
            remaining_ = size;
            stage_ = stage::chunk_data;
            return again;
        }
        consume(n);
    }
}

// The CRLF that ends a chunk's data. chunk_state_: 0 before the CR, 1 after it.
parse_event message_parser::parse_chunk_data_end() noexcept {
    while (!in_.empty()) {
        char c = in_.get()[0];
        if (c != (chunk_state_ == 0 ? '\r' : '\n')) {
            return fail(400, "missing CRLF after chunk data");
        }
        consume(1);
        if (chunk_state_ == 1) {
            chunk_state_ = 0;
            stage_ = stage::chunk_line;
            return again;
        }
        chunk_state_ = 1;
    }
    return eof_ ? fail(400, "connection closed inside a chunk") : parse_event::need_more;
}

}  // namespace reef::http
