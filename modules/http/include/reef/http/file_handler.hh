// reef::http::file_handler: serves the files of a directory: content types by extension,
// single byte ranges (206/416), ETag and Last-Modified with 304 answers, and no way out
// of the root (no "..", no symlink leading outside).
//   routes.get("/static/*", reef::http::file_handler("/srv/www"));   // serves req.wildcard()
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <reef/core/future.hh>
#include <reef/http/reply.hh>
#include <reef/http/request.hh>

namespace reef::http {

/// How a file_handler serves.
struct file_handler_options {
    /// The file served for a directory ("" to refuse directories with 403).
    std::string index_file = "index.html";
    /// Send an ETag (size and modification time) and honour If-None-Match / If-Range.
    bool etag = true;
    /// Send Last-Modified and honour If-Modified-Since.
    bool last_modified = true;
    /// Cache-Control: max-age=N when N > 0.
    std::chrono::seconds max_age{0};
    /// Files (or ranges) up to this size are read whole into one buffer; longer ones
    /// are streamed in read_chunk pieces.
    std::size_t whole_file_max = 256 * 1024;
    /// Size of each read of a streamed file.
    std::size_t read_chunk = 64 * 1024;
};

/// The Content-Type for a file name, by its extension ("index.html" -> "text/html;
/// charset=utf-8"); "application/octet-stream" when unknown.
std::string_view content_type_for(std::string_view file_name) noexcept;

/// A handler serving the files below a root directory. Owns a descriptor of the root
/// (opened in the constructor, which throws std::system_error when it cannot). Use one
/// per shard.
///
/// File reads are blocking pread(2) calls on the shard: fine for files in the page
/// cache (the common case for static assets), a stall for cold files on slow disks.
/// Long files are read in read_chunk pieces, each sent before the next is read, so one
/// read blocks the shard for at most one chunk. Paths are resolved with openat2(2)
/// RESOLVE_BENEATH (symlinks inside the root are followed, ones leading out refused).
class file_handler {
public:
    /// Serves `root` (a directory).
    explicit file_handler(std::string root, file_handler_options opts = {});
    file_handler(file_handler&&) noexcept;
    file_handler& operator=(file_handler&&) noexcept;
    ~file_handler();

    /// Serves the file named by the route's wildcard (req.wildcard()); a route without
    /// one serves req.path() below the root.
    future<reply> operator()(request& req);
    /// Serves `relative` (a decoded path below the root; '/' separated).
    future<reply> serve(request& req, std::string_view relative);

    /// The root directory.
    const std::string& root() const noexcept;

    struct state;

private:
    std::unique_ptr<state> s_;
};

}  // namespace reef::http
