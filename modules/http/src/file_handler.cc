// file_handler: path checks, openat2 below the root, validators (ETag, Last-Modified),
// conditional requests, single ranges, and reading the file whole or in chunks.
#include <reef/http/file_handler.hh>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <system_error>

#include <fmt/core.h>

#include <reef/core/coroutine.hh>

#include "http_date.hh"
#include "server_util.hh"

namespace reef::http {

namespace {

struct extension_type {
    std::string_view ext;
    std::string_view type;
};

constexpr extension_type content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
};

// An owned descriptor.
class file_desc {
public:
    file_desc() noexcept = default;
    explicit file_desc(int fd) noexcept : fd_(fd) {}
    file_desc(file_desc&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    file_desc& operator=(file_desc&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~file_desc() { reset(); }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    void reset() noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    int fd_ = -1;
};

// openat2(2) below `dir`, refusing any escape; -errno on failure.
int open_beneath(int dir, const std::string& rel) noexcept {
    ::open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, dir, rel.c_str(), &how, sizeof(how));
    return fd < 0 ? -errno : int(fd);
}

// Reads [offset, offset + n) of `fd` into one buffer (blocking pread, see the header).
temporary_buffer<char> read_range(int fd, std::uint64_t offset, std::size_t n) {
    temporary_buffer<char> buf(n);
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::pread(fd, buf.get_write() + got, n - got, off_t(offset + got));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::system_error(errno, std::system_category(), "pread");
        }
        if (r == 0) {
            throw std::runtime_error("the file became shorter while it was served");
        }
        got += std::size_t(r);
    }
    return buf;
}

struct byte_range {
    std::uint64_t first;
    std::uint64_t last;  // inclusive
};

// What a Range field asks of a file of `size` bytes: nullopt to ignore it (absent,
// malformed, not bytes, several ranges); a range with first > last when unsatisfiable.
std::optional<byte_range> parse_range(std::string_view field, std::uint64_t size) noexcept {
    field = srv::trim(field);
    constexpr std::string_view unit = "bytes=";
    if (field.size() <= unit.size() || !reef::detail::ascii_iequals(field.substr(0, unit.size()), unit)) {
        return std::nullopt;
    }
    std::string_view spec = srv::trim(field.substr(unit.size()));
    if (spec.find(',') != std::string_view::npos) {
        return std::nullopt;  // several ranges: served whole (allowed by RFC 9110)
    }
    auto dash = spec.find('-');
    if (dash == std::string_view::npos) {
        return std::nullopt;
    }
    auto number = [](std::string_view s) -> std::optional<std::uint64_t> {
        std::uint64_t v = 0;
        if (s.empty()) {
            return std::nullopt;
        }
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size()) {
            return std::nullopt;
        }
        return v;
    };
    std::string_view a = srv::trim(spec.substr(0, dash));
    std::string_view b = srv::trim(spec.substr(dash + 1));
    if (a.empty()) {
        // A suffix: the last N bytes.
        auto n = number(b);
        if (!n) {
            return std::nullopt;
        }
        if (*n == 0 || size == 0) {
            return byte_range{1, 0};
        }
        return byte_range{size - std::min(*n, size), size - 1};
    }
    auto first = number(a);
    if (!first) {
        return std::nullopt;
    }
    std::uint64_t last = size ? size - 1 : 0;
    if (!b.empty()) {
        auto l = number(b);
        if (!l || *l < *first) {
            return std::nullopt;
        }
        last = std::min(*l, last);
    }
    if (*first >= size) {
        return byte_range{1, 0};
    }
    return byte_range{*first, last};
}

// True when an If-None-Match list matches `etag` (weak comparison).
bool none_match(std::string_view field, std::string_view etag) {
    auto opaque = [](std::string_view t) {
        if (t.size() > 2 && t.substr(0, 2) == "W/") {
            t.remove_prefix(2);
        }
        return t;
    };
    return srv::for_each_element(
        field, [&](std::string_view tag) { return tag == "*" || opaque(tag) == opaque(etag); });
}

}  // namespace

std::string_view content_type_for(std::string_view file_name) noexcept {
    auto slash = file_name.rfind('/');
    if (slash != std::string_view::npos) {
        file_name.remove_prefix(slash + 1);
    }
    auto dot = file_name.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == file_name.size()) {
        return "application/octet-stream";
    }
    std::string_view ext = file_name.substr(dot + 1);
    for (auto& e : content_types) {
        if (reef::detail::ascii_iequals(e.ext, ext)) {
            return e.type;
        }
    }
    return "application/octet-stream";
}

struct file_handler::state {
    std::string root;
    file_desc dir;
    file_handler_options opts;
};

file_handler::file_handler(std::string root, file_handler_options opts) : s_(std::make_unique<state>()) {
    int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        throw std::system_error(errno, std::system_category(),
                                fmt::format("file_handler: cannot open {}", root));
    }
    s_->dir = file_desc(fd);
    s_->root = std::move(root);
    s_->opts = std::move(opts);
}

file_handler::file_handler(file_handler&&) noexcept = default;
file_handler& file_handler::operator=(file_handler&&) noexcept = default;
file_handler::~file_handler() = default;

const std::string& file_handler::root() const noexcept {
    return s_->root;
}

future<reply> file_handler::operator()(request& req) {
    std::string_view rel = req.wildcard();
    if (rel.data() == nullptr) {
        rel = req.path();
    }
    return serve(req, rel);
}

future<reply> file_handler::serve(request& req, std::string_view relative) {
    const auto& opts = s_->opts;
    if (req.method() != method::get && req.method() != method::head) {
        auto r = reply::error(status_type::method_not_allowed);
        r.set_header("Allow", "GET, HEAD");
        co_return r;
    }
    // The path, checked segment by segment: ".." is refused outright (even when it
    // would stay inside the root), "." and empty segments are dropped.
    std::string rel;
    bool is_dir_request = relative.empty() || relative.back() == '/';
    for (std::string_view rest = relative; !rest.empty();) {
        auto slash = rest.find('/');
        std::string_view seg = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (seg.empty() || seg == ".") {
            continue;
        }
        if (seg == ".." || seg.find('\0') != std::string_view::npos) {
            co_return reply::error(status_type::forbidden);
        }
        if (!rel.empty()) {
            rel += '/';
        }
        rel += seg;
    }
    if (rel.empty()) {
        rel = ".";
    }
    int fd = open_beneath(s_->dir.get(), rel);
    if (fd < 0) {
        co_return reply::error(fd == -ENOENT || fd == -ENOTDIR ? status_type::not_found
                                                               : status_type::forbidden);
    }
    file_desc file(fd);
    struct ::stat st {};
    if (::fstat(file.get(), &st) != 0) {
        co_return reply::error(status_type::internal_server_error);
    }
    if (S_ISDIR(st.st_mode)) {
        if (opts.index_file.empty()) {
            co_return reply::error(status_type::forbidden);
        }
        if (!is_dir_request) {
            // "/static/docs" -> "/static/docs/", so that relative links resolve. Built
            // from the target as sent: still percent-encoded, as a Location must be.
            std::string_view target = req.target();
            auto q = target.find('?');
            std::string location(target.substr(0, q));
            location += '/';
            if (q != std::string_view::npos) {
                location += target.substr(q);
            }
            co_return reply::redirect(location, status_type::moved_permanently);
        }
        rel += '/';
        rel += opts.index_file;
        fd = open_beneath(s_->dir.get(), rel);
        if (fd < 0) {
            co_return reply::error(fd == -ENOENT ? status_type::not_found : status_type::forbidden);
        }
        file = file_desc(fd);
        if (::fstat(file.get(), &st) != 0) {
            co_return reply::error(status_type::internal_server_error);
        }
    }
    if (!S_ISREG(st.st_mode)) {
        co_return reply::error(status_type::forbidden);
    }

    const auto size = std::uint64_t(st.st_size);
    const auto mtime_ns =
        std::uint64_t(st.st_mtim.tv_sec) * 1'000'000'000u + std::uint64_t(st.st_mtim.tv_nsec);
    char etag_buf[48];
    std::string_view etag;
    if (opts.etag) {
        auto n = fmt::format_to_n(etag_buf, sizeof(etag_buf), "\"{:x}-{:x}\"", size, mtime_ns).size;
        etag = std::string_view(etag_buf, n);
    }
    char date_buf[srv::http_date_size];
    std::string_view last_modified;
    if (opts.last_modified) {
        srv::format_http_date(st.st_mtim.tv_sec, date_buf);
        last_modified = std::string_view(date_buf, sizeof(date_buf));
    }
    auto validators = [&](reply& r) {
        if (!etag.empty()) {
            r.set_header("ETag", etag);
        }
        if (!last_modified.empty()) {
            r.set_header("Last-Modified", last_modified);
        }
        if (opts.max_age.count() > 0) {
            r.set_header("Cache-Control", fmt::format("max-age={}", opts.max_age.count()));
        }
    };

    // Conditional requests (RFC 9110 13.2.2): If-None-Match wins over If-Modified-Since.
    if (auto inm = req.header("If-None-Match"); inm && !etag.empty()) {
        if (none_match(*inm, etag)) {
            reply r(status_type::not_modified);
            validators(r);
            co_return r;
        }
    } else if (auto ims = req.header("If-Modified-Since"); ims && opts.last_modified) {
        if (auto t = srv::parse_http_date(*ims); t && st.st_mtim.tv_sec <= *t) {
            reply r(status_type::not_modified);
            validators(r);
            co_return r;
        }
    }

    std::uint64_t first = 0;
    std::uint64_t length = size;
    reply r;
    r.set_content_type(content_type_for(rel));
    r.set_header("Accept-Ranges", "bytes");
    validators(r);
    if (auto range = req.header("Range"); range && req.method() == method::get) {
        // If-Range: the range applies only to the representation the client has.
        bool applies = true;
        if (auto if_range = req.header("If-Range")) {
            std::string_view v = srv::trim(*if_range);
            applies =
                (!v.empty() && v.front() == '"') ? v == etag : (!last_modified.empty() && v == last_modified);
        }
        if (auto br = parse_range(*range, size); br && applies) {
            if (br->first > br->last) {
                auto e = reply::error(status_type::range_not_satisfiable);
                e.set_header("Content-Range", fmt::format("bytes */{}", size));
                co_return e;
            }
            first = br->first;
            length = br->last - br->first + 1;
            r.set_status(status_type::partial_content);
            r.set_header("Content-Range", fmt::format("bytes {}-{}/{}", br->first, br->last, size));
        }
    }

    if (req.method() == method::head || length > opts.whole_file_max) {
        // Streamed in chunks (a HEAD reply only announces the length: nothing is read).
        auto chunk = std::max<std::size_t>(opts.read_chunk, 4096);
        auto shared = std::make_shared<file_desc>(std::move(file));
        r.write_body(
            content_type_for(rel),
            [shared, first, length, chunk](output_stream<char>& out) -> future<> {
                std::uint64_t done = 0;
                while (done < length) {
                    auto n = std::size_t(std::min<std::uint64_t>(chunk, length - done));
                    co_await out.write(read_range(shared->get(), first + done, n));
                    done += n;
                }
            },
            length);
        co_return r;
    }
    r.set_body(read_range(file.get(), first, std::size_t(length)));
    co_return r;
}

}  // namespace reef::http
