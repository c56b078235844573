// dns::resolver: starts c-ares queries on the shard's channel and turns their callbacks
// into futures. Each query owns a heap record that c-ares hands back to exactly one
// callback (success, failure, cancellation or the channel's destruction).
#include <reef/net/dns.hh>

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "dns_channel.hh"

namespace reef::net::dns {

namespace {

std::exception_ptr failure(int status, const std::string& name, const std::string& what) {
    auto code = errc(status);
    switch (status) {
        case ARES_ETIMEOUT:
            return std::make_exception_ptr(timeout_error(code, name, what));
        case ARES_ECANCELLED:
        case ARES_EDESTRUCTION:
            return std::make_exception_ptr(cancelled_error(code, name, what));
        default:
            return std::make_exception_ptr(error(code, name, what));
    }
}

int family_of(family f) noexcept {
    switch (f) {
        case family::inet:
            return AF_INET;
        case family::inet6:
            return AF_INET6;
        case family::any:
            return AF_UNSPEC;
    }
    return AF_UNSPEC;
}

void add_unique(std::vector<std::string>& names, const char* n) {
    if (n && *n && std::find(names.begin(), names.end(), n) == names.end()) {
        names.emplace_back(n);
    }
}

void add_unique(std::vector<inet_address>& addrs, const inet_address& a) {
    if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) {
        addrs.push_back(a);
    }
}

// A query in flight: what its callback resolves, and the text for its errors.
template <typename T>
struct query {
    promise<T> pr;
    std::string name;
    std::string what;
};

host_entry from_addrinfo(const ares_addrinfo& ai) {
    host_entry e;
    // The canonical name is where the CNAME chain ends (c-ares lists the hosts file's
    // aliases the same way); without a chain, the name asked for.
    const char* canonical = ai.name;
    for (auto* c = ai.cnames; c; c = c->next) {
        if (c->name) {
            canonical = c->name;
        }
    }
    add_unique(e.names, canonical);
    for (auto* c = ai.cnames; c; c = c->next) {
        add_unique(e.names, c->alias);
    }
    for (auto* n = ai.nodes; n; n = n->ai_next) {
        if (n->ai_family == AF_INET || n->ai_family == AF_INET6) {
            add_unique(e.addresses, socket_address::from_sockaddr(n->ai_addr, n->ai_addrlen).address());
        }
    }
    return e;
}

void on_addrinfo(void* arg, int status, int, ares_addrinfo* res) {
    std::unique_ptr<query<host_entry>> q(static_cast<query<host_entry>*>(arg));
    std::unique_ptr<ares_addrinfo, void (*)(ares_addrinfo*)> owned(res, &ares_freeaddrinfo);
    if (status != ARES_SUCCESS) {
        q->pr.set_exception(failure(status, q->name, q->what));
        return;
    }
    try {
        auto e = from_addrinfo(*res);
        if (e.addresses.empty()) {
            q->pr.set_exception(failure(ARES_ENODATA, q->name, q->what));
        } else {
            q->pr.set_value(std::move(e));
        }
    } catch (...) {
        q->pr.set_exception(std::current_exception());
    }
}

void on_hostent(void* arg, int status, int, ::hostent* h) {
    std::unique_ptr<query<host_entry>> q(static_cast<query<host_entry>*>(arg));
    if (status != ARES_SUCCESS || !h) {
        q->pr.set_exception(failure(status != ARES_SUCCESS ? status : ARES_ENODATA, q->name, q->what));
        return;
    }
    try {
        host_entry e;
        add_unique(e.names, h->h_name);
        for (char** a = h->h_aliases; a && *a; ++a) {
            add_unique(e.names, *a);
        }
        for (char** p = h->h_addr_list; p && *p; ++p) {
            if (h->h_addrtype == AF_INET && h->h_length == sizeof(::in_addr)) {
                ::in_addr v4;
                std::memcpy(&v4, *p, sizeof(v4));
                add_unique(e.addresses, inet_address(v4));
            } else if (h->h_addrtype == AF_INET6 && h->h_length == sizeof(::in6_addr)) {
                ::in6_addr v6;
                std::memcpy(&v6, *p, sizeof(v6));
                add_unique(e.addresses, inet_address(v6));
            }
        }
        q->pr.set_value(std::move(e));
    } catch (...) {
        q->pr.set_exception(std::current_exception());
    }
}

void on_srv(void* arg, int status, int, unsigned char* answer, int len) {
    std::unique_ptr<query<std::vector<srv_record>>> q(static_cast<query<std::vector<srv_record>>*>(arg));
    if (status != ARES_SUCCESS) {
        q->pr.set_exception(failure(status, q->name, q->what));
        return;
    }
    ares_srv_reply* replies = nullptr;
    status = ares_parse_srv_reply(answer, len, &replies);
    if (status != ARES_SUCCESS) {
        q->pr.set_exception(failure(status, q->name, q->what));
        return;
    }
    std::unique_ptr<ares_srv_reply, void (*)(ares_srv_reply*)> owned(
        replies, [](ares_srv_reply* r) { ares_free_data(r); });
    try {
        std::vector<srv_record> out;
        for (auto* r = replies; r; r = r->next) {
            std::string target = r->host ? r->host : "";
            if (!target.empty() && target.back() == '.') {
                target.pop_back();
            }
            out.push_back(srv_record{r->priority, r->weight, r->port, std::move(target)});
        }
        if (out.empty()) {
            q->pr.set_exception(failure(ARES_ENODATA, q->name, q->what));
        } else {
            q->pr.set_value(std::move(out));
        }
    } catch (...) {
        q->pr.set_exception(std::current_exception());
    }
}

// "_name" from "name" or "_name".
std::string_view without_underscore(std::string_view s) noexcept {
    return !s.empty() && s.front() == '_' ? s.substr(1) : s;
}

}  // namespace

class resolver::impl {
public:
    explicit impl(const options& opts) : ch_(detail::channel::make(opts)) {}

    future<host_entry> lookup(std::string name, family f, bool canonical) {
        auto what = fmt::format("resolving '{}'", name);
        auto [q, fut] = start<host_entry>(std::move(name), std::move(what));
        if (!q) {
            return std::move(fut);
        }
        ares_addrinfo_hints hints{};
        hints.ai_family = family_of(f);
        hints.ai_flags = canonical ? ARES_AI_CANONNAME : 0;
        auto* raw = q.release();
        // The callback may run at once (hosts file, numeric names) or from a later poll.
        ares_getaddrinfo(ch_->get(), raw->name.c_str(), nullptr, &hints, &on_addrinfo, raw);
        ch_->update_timer();
        return std::move(fut);
    }

    future<host_entry> reverse(const inet_address& addr) {
        auto text = addr.to_string();
        auto what = fmt::format("reverse lookup of {}", text);
        auto [q, fut] = start<host_entry>(std::move(text), std::move(what));
        if (!q) {
            return std::move(fut);
        }
        int af = addr.is_ipv4() ? AF_INET : AF_INET6;
        ares_gethostbyaddr(ch_->get(), addr.data(), int(addr.size()), af, &on_hostent, q.release());
        ch_->update_timer();
        return std::move(fut);
    }

    future<std::vector<srv_record>> srv(std::string_view service, std::string_view proto,
                                        std::string_view domain) {
        auto name = fmt::format("_{}._{}.{}", without_underscore(service), without_underscore(proto), domain);
        auto what = fmt::format("SRV records of '{}'", name);
        auto [q, fut] = start<std::vector<srv_record>>(std::move(name), std::move(what));
        if (!q) {
            return std::move(fut);
        }
        auto* raw = q.release();
        ares_search(ch_->get(), raw->name.c_str(), ns_c_in, ns_t_srv, &on_srv, raw);
        ch_->update_timer();
        return std::move(fut);
    }

    future<> close() { return ch_->close(); }
    void shut_down() noexcept { ch_->shut_down(); }
    bool busy() const noexcept { return ch_->busy(); }

private:
    // A query record and its future; no record (and a failed future) once closed.
    template <typename T>
    std::pair<std::unique_ptr<query<T>>, future<T>> start(std::string name, std::string what) {
        if (!ch_->is_open()) {
            auto e = failure(ARES_ECANCELLED, name, what + " (the resolver is closed)");
            return {nullptr, make_exception_future<T>(std::move(e))};
        }
        auto q = std::make_unique<query<T>>();
        q->name = std::move(name);
        q->what = std::move(what);
        auto fut = q->pr.get_future();
        return {std::move(q), std::move(fut)};
    }

    std::shared_ptr<detail::channel> ch_;
};

resolver::resolver(const options& opts) : impl_(std::make_shared<impl>(opts)) {}

resolver::resolver(resolver&&) noexcept = default;

resolver& resolver::operator=(resolver&& o) noexcept {
    if (this != &o) {
        if (impl_) {
            impl_->shut_down();
        }
        impl_ = std::move(o.impl_);
    }
    return *this;
}

resolver::~resolver() {
    if (impl_) {
        impl_->shut_down();
    }
}

future<std::vector<inet_address>> resolver::resolve_name(std::string name, family f) {
    return impl_->lookup(std::move(name), f, false).then([](host_entry e) { return std::move(e.addresses); });
}

future<host_entry> resolver::get_host_by_name(std::string name, family f) {
    return impl_->lookup(std::move(name), f, true);
}

future<host_entry> resolver::get_host_by_addr(const inet_address& addr) {
    return impl_->reverse(addr);
}

future<std::vector<srv_record>> resolver::get_srv_records(std::string_view service, std::string_view proto,
                                                          std::string_view domain) {
    return impl_->srv(service, proto, domain);
}

future<> resolver::close() {
    return impl_ ? impl_->close() : make_ready_future<>();
}

namespace detail {

// This shard's default resolver. At the end of the thread the reactor is gone: a
// resolver that still has sockets or a timer (lookups in flight when the shards
// stopped) is abandoned rather than closed against a reactor that no longer exists.
struct default_resolver_slot {
    std::unique_ptr<resolver> r;
    ~default_resolver_slot() {
        if (r && r->impl_ && r->impl_->busy()) {
            (void)new std::shared_ptr<resolver::impl>(std::move(r->impl_));
        }
    }
};

thread_local default_resolver_slot tl_default;

}  // namespace detail

resolver& default_resolver() {
    if (!detail::tl_default.r) [[unlikely]] {
        detail::tl_default.r = std::make_unique<resolver>();
    }
    return *detail::tl_default.r;
}

future<std::vector<inet_address>> resolve_name(std::string name, family f) {
    return default_resolver().resolve_name(std::move(name), f);
}

future<host_entry> get_host_by_name(std::string name, family f) {
    return default_resolver().get_host_by_name(std::move(name), f);
}

future<host_entry> get_host_by_addr(const inet_address& addr) {
    return default_resolver().get_host_by_addr(addr);
}

future<std::vector<srv_record>> get_srv_records(std::string_view service, std::string_view proto,
                                                std::string_view domain) {
    return default_resolver().get_srv_records(service, proto, domain);
}

}  // namespace reef::net::dns
