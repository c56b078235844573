// reef::http::routes: maps a method and a path to a handler. Patterns are literal
// segments, `{name}` parameters (one segment each) and a final `*` that takes the rest.
//   reef::http::routes r;
//   r.get("/", [](reef::http::request&) { return
//   reef::make_ready_future<reef::http::reply>(reef::http::reply::text("hi")); }); r.get("/items/{id}",
//   item_handler);            // req.param("id") r.get("/static/*", reef::http::file_handler("/srv/www")); //
//   req.wildcard()
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <reef/core/future.hh>
#include <reef/http/detail/unique_function.hh>
#include <reef/http/parser.hh>
#include <reef/http/reply.hh>
#include <reef/http/request.hh>

namespace reef::http {

/// A request handler: a coroutine (or any function) taking the request and returning
/// the future of its reply. It may read the request's body, and may stream its reply's
/// body (reply::write_body). An exception (or a failed future) is answered with 500,
/// or with the status of a body_error / request_timeout_error.
using handler = reef::detail::unique_function<future<reply>(request&)>;

/// The outcome of routes::find().
struct route_match {
    /// The handler, or nullptr when nothing matched (then `status` says why).
    handler* target = nullptr;
    /// 404 (no route has this path) or 405 (routes have the path, not the method).
    status_type status = status_type::not_found;
    /// For 405: the methods the path accepts, comma-separated ("GET, HEAD, POST").
    std::string allow;
};

/// A routing table. Build it before serving; find() does not allocate except for the
/// Allow list of a 405. One per shard (handlers are not shared between shards).
///
/// Precedence, per segment: a literal segment beats a parameter, which beats the
/// wildcard; the first full match in that order wins. A HEAD request without a HEAD
/// handler goes to the GET handler (the server drops the body). Paths are matched
/// after percent-decoding, byte for byte (case-sensitive, "/a" and "/a/" differ).
class routes {
public:
    routes();
    routes(routes&&) noexcept;
    routes& operator=(routes&&) noexcept;
    ~routes();

    /// Adds `h` for method `m` on `pattern` ("/a/{x}/b/*"). Throws std::invalid_argument
    /// for a pattern not starting with '/', an empty or unterminated `{}`, a `*` that is
    /// not the whole last segment, more than max_route_params captures, or a method
    /// and pattern already routed. method::other is not accepted: use add_any().
    routes& add(method m, std::string_view pattern, handler h);
    /// Adds `h` for every method not routed explicitly on `pattern`.
    routes& add_any(std::string_view pattern, handler h);
    routes& get(std::string_view pattern, handler h) { return add(method::get, pattern, std::move(h)); }
    routes& post(std::string_view pattern, handler h) { return add(method::post, pattern, std::move(h)); }
    routes& put(std::string_view pattern, handler h) { return add(method::put, pattern, std::move(h)); }
    routes& del(std::string_view pattern, handler h) { return add(method::delete_, pattern, std::move(h)); }
    routes& patch(std::string_view pattern, handler h) { return add(method::patch, pattern, std::move(h)); }

    /// The handler of requests no route matches (instead of the plain 404 reply).
    routes& set_not_found(handler h);
    /// The not-found handler, or nullptr.
    handler* not_found_handler() noexcept;

    /// Finds the handler of `req` (its method and path()) and records the route's
    /// parameters in `req`.
    route_match find(request& req);
    /// Same, for a method and a path alone (the parameters are recorded in `req` if it
    /// is given).
    route_match find(method m, std::string_view path, request* req = nullptr);

    /// Number of (pattern, method) pairs routed.
    std::size_t size() const noexcept;

    struct node;

private:
    std::unique_ptr<node> root_;
    handler not_found_;
    std::size_t count_ = 0;
};

}  // namespace reef::http
