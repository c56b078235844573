// routes: a trie of path segments. Each node has literal children (a flat hash map), at
// most one parameter child, and may end routes (`here`) or hold a wildcard route that
// takes the rest of the path. Matching walks the path's segments without allocating,
// trying literal, then parameter, then wildcard, and backtracks when a branch has no
// handler for the method.
#include <reef/http/routes.hh>

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <fmt/core.h>

namespace reef::http {

namespace {

constexpr std::size_t method_slots = std::size_t(method::other);  // named methods only

// The handlers of one pattern: one per method, and one for any other method.
struct endpoint {
    std::array<handler, method_slots> by_method;
    handler any;
    // The names of the pattern's captures, in path order ("*" for the wildcard).
    std::array<std::string, max_route_params> names;
    std::size_t name_count = 0;

    handler* pick(method m) noexcept {
        if (m != method::other) {
            if (auto& h = by_method[std::size_t(m)]) {
                return &h;
            }
            if (m == method::head) {
                if (auto& g = by_method[std::size_t(method::get)]) {
                    return &g;
                }
            }
        }
        return any ? &any : nullptr;
    }

    std::string allow() const {
        std::string out;
        auto add = [&](std::string_view name) {
            if (!out.empty()) {
                out += ", ";
            }
            out += name;
        };
        for (std::size_t i = 0; i < method_slots; ++i) {
            bool routed =
                bool(by_method[i]) || (method(i) == method::head && by_method[std::size_t(method::get)]);
            if (routed) {
                add(to_string(method(i)));
            }
        }
        return out;
    }
};

// The captures of one match attempt.
struct captures {
    std::array<std::string_view, max_route_params> values;
    std::size_t count = 0;
};

}  // namespace

struct routes::node {
    absl::flat_hash_map<std::string, std::unique_ptr<node>> literals;
    // The same children while there are few of them (up to few_max): comparing a
    // handful of short strings costs less than hashing the segment, and most nodes of a
    // server's routes have a few fixed children. Empty once there are more.
    static constexpr std::size_t few_max = 8;
    std::vector<std::pair<std::string, node*>> few;
    std::unique_ptr<node> param;
    std::unique_ptr<endpoint> here;      // routes whose pattern ends at this node
    std::unique_ptr<endpoint> wildcard;  // routes whose pattern ends with `*` here
};

namespace {

struct parsed_pattern {
    struct segment {
        enum class kind { literal, param, wildcard } k;
        std::string_view text;  // the literal, or the parameter's name
    };
    std::vector<segment> segments;
};

parsed_pattern parse_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') {
        throw std::invalid_argument(fmt::format("route pattern {:?} does not start with '/'", pattern));
    }
    parsed_pattern out;
    std::string_view rest = pattern.substr(1);
    std::size_t captures = 0;
    for (;;) {
        auto slash = rest.find('/');
        std::string_view seg = rest.substr(0, slash);
        bool last = slash == std::string_view::npos;
        using kind = parsed_pattern::segment::kind;
        if (seg == "*") {
            if (!last) {
                throw std::invalid_argument(
                    fmt::format("route pattern {:?}: '*' must be the last segment", pattern));
            }
            out.segments.push_back({kind::wildcard, "*"});
            ++captures;
        } else if (!seg.empty() && seg.front() == '{') {
            if (seg.size() < 3 || seg.back() != '}' || seg.find_first_of("{}/*", 1) != seg.size() - 1) {
                throw std::invalid_argument(
                    fmt::format("route pattern {:?}: bad parameter {:?}", pattern, seg));
            }
            out.segments.push_back({kind::param, seg.substr(1, seg.size() - 2)});
            ++captures;
        } else {
            if (seg.find_first_of("{}*") != std::string_view::npos) {
                throw std::invalid_argument(
                    fmt::format("route pattern {:?}: '{{', '}}' or '*' inside a literal segment", pattern));
            }
            out.segments.push_back({kind::literal, seg});
        }
        if (last) {
            break;
        }
        rest.remove_prefix(slash + 1);
    }
    if (captures > max_route_params) {
        throw std::invalid_argument(
            fmt::format("route pattern {:?}: more than {} parameters", pattern, max_route_params));
    }
    return out;
}

// Walks `rest` (the path after a '/') from `n`; returns the first endpoint with a
// handler for `m`, remembering in `seen` the first endpoint matched at all.
endpoint* match(routes::node& n, std::string_view rest, method m, captures& c, endpoint*& seen,
                captures& seen_c) {
    auto slash = rest.find('/');
    const bool last = slash == std::string_view::npos;
    std::string_view seg = rest.substr(0, slash);
    auto consider = [&](endpoint* e) -> endpoint* {
        if (!e) {
            return nullptr;
        }
        if (e->pick(m)) {
            return e;
        }
        if (!seen) {
            seen = e;
            seen_c = c;
        }
        return nullptr;
    };
    auto descend = [&](routes::node& child) -> endpoint* {
        if (last) {
            return consider(child.here.get());
        }
        return match(child, rest.substr(slash + 1), m, c, seen, seen_c);
    };
    if (!n.few.empty()) {
        for (auto& [text, child] : n.few) {
            if (text.size() == seg.size() && std::memcmp(text.data(), seg.data(), seg.size()) == 0) {
                if (auto* e = descend(*child)) {
                    return e;
                }
                break;
            }
        }
    } else if (!n.literals.empty()) {
        if (auto it = n.literals.find(absl::string_view(seg.data(), seg.size())); it != n.literals.end()) {
            if (auto* e = descend(*it->second)) {
                return e;
            }
        }
    }
    if (n.param && !seg.empty() && c.count < max_route_params) {
        c.values[c.count++] = seg;
        if (auto* e = descend(*n.param)) {
            return e;
        }
        --c.count;
    }
    if (n.wildcard && c.count < max_route_params) {
        c.values[c.count++] = rest;
        if (auto* e = consider(n.wildcard.get())) {
            return e;
        }
        --c.count;
    }
    return nullptr;
}

void record(request* req, const endpoint& e, const captures& c) {
    if (!req) {
        return;
    }
    for (std::size_t i = 0; i < c.count && i < e.name_count; ++i) {
        req->set_param(e.names[i], c.values[i]);
    }
}

}  // namespace

routes::routes() : root_(std::make_unique<node>()) {}
routes::routes(routes&&) noexcept = default;
routes& routes::operator=(routes&&) noexcept = default;
routes::~routes() = default;

namespace {

endpoint& endpoint_for(routes::node& root, std::string_view pattern) {
    auto parsed = parse_pattern(pattern);
    routes::node* n = &root;
    std::unique_ptr<endpoint>* slot = nullptr;
    std::array<std::string_view, max_route_params> names;
    std::size_t name_count = 0;
    using kind = parsed_pattern::segment::kind;
    for (std::size_t i = 0; i < parsed.segments.size(); ++i) {
        auto& seg = parsed.segments[i];
        const bool last = i + 1 == parsed.segments.size();
        if (seg.k == kind::wildcard) {
            names[name_count++] = "*";
            slot = &n->wildcard;
            break;
        }
        std::unique_ptr<routes::node>* child;
        if (seg.k == kind::param) {
            names[name_count++] = seg.text;
            child = &n->param;
        } else {
            child = &n->literals[std::string(seg.text)];
        }
        if (!*child) {
            *child = std::make_unique<routes::node>();
            if (seg.k == kind::literal) {
                if (n->literals.size() <= routes::node::few_max) {
                    n->few.emplace_back(std::string(seg.text), child->get());
                } else {
                    n->few.clear();
                }
            }
        }
        n = child->get();
        if (last) {
            slot = &n->here;
        }
    }
    if (!*slot) {
        *slot = std::make_unique<endpoint>();
        for (std::size_t i = 0; i < name_count; ++i) {
            (*slot)->names[i] = std::string(names[i]);
        }
        (*slot)->name_count = name_count;
    } else {
        for (std::size_t i = 0; i < name_count; ++i) {
            if ((*slot)->names[i] != names[i]) {
                throw std::invalid_argument(fmt::format(
                    "route pattern {:?}: parameter {:?} is named {:?} in another route of the same shape",
                    pattern, names[i], (*slot)->names[i]));
            }
        }
    }
    return **slot;
}

}  // namespace

routes& routes::add(method m, std::string_view pattern, handler h) {
    if (m == method::other) {
        throw std::invalid_argument("routes::add: method::other has no name; use add_any()");
    }
    if (!h) {
        throw std::invalid_argument("routes::add: empty handler");
    }
    auto& e = endpoint_for(*root_, pattern);
    auto& slot = e.by_method[std::size_t(m)];
    if (slot) {
        throw std::invalid_argument(fmt::format("route {} {} is already defined", to_string(m), pattern));
    }
    slot = std::move(h);
    ++count_;
    return *this;
}

routes& routes::add_any(std::string_view pattern, handler h) {
    if (!h) {
        throw std::invalid_argument("routes::add_any: empty handler");
    }
    auto& e = endpoint_for(*root_, pattern);
    if (e.any) {
        throw std::invalid_argument(fmt::format("route * {} is already defined", pattern));
    }
    e.any = std::move(h);
    ++count_;
    return *this;
}

routes& routes::set_not_found(handler h) {
    not_found_ = std::move(h);
    return *this;
}

handler* routes::not_found_handler() noexcept {
    return not_found_ ? &not_found_ : nullptr;
}

route_match routes::find(request& req) {
    return find(req.method(), req.path(), &req);
}

route_match routes::find(method m, std::string_view path, request* req) {
    route_match out;
    if (path.empty() || path.front() != '/') {
        return out;
    }
    captures c;
    captures seen_c;
    endpoint* seen = nullptr;
    if (auto* e = match(*root_, path.substr(1), m, c, seen, seen_c)) {
        record(req, *e, c);
        out.target = e->pick(m);
        return out;
    }
    if (seen) {
        out.status = status_type::method_not_allowed;
        out.allow = seen->allow();
    }
    return out;
}

std::size_t routes::size() const noexcept {
    return count_;
}

}  // namespace reef::http
