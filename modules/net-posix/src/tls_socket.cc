// TLS connections and listening sockets: the reactor's connected_socket_impl and
// server_socket_impl over a tls::session, and the wrap/connect/listen functions.
#include <stdexcept>

#include <reef/net/default_stack.hh>

#include "tls_credentials.hh"
#include "tls_session.hh"

namespace reef::net::tls {

namespace {

class tls_source final : public data_source_impl {
public:
    explicit tls_source(std::shared_ptr<session> s) noexcept : s_(std::move(s)) {}
    future<temporary_buffer<char>> get() override { return s_->read(); }

private:
    session_user s_;
};

class tls_sink final : public data_sink_impl {
public:
    tls_sink(std::shared_ptr<session> s, std::size_t buffer_size) noexcept
        : s_(std::move(s)),
          buffer_size_(buffer_size) {}
    using data_sink_impl::put;
    future<> put(temporary_buffer<char> buf) override { return s_->write(std::move(buf)); }
    future<> flush() override { return s_->flush(); }
    // Sends close_notify, then closes the connection's output.
    future<> close() override { return s_->close_output(); }
    std::size_t buffer_size() const noexcept override { return buffer_size_; }

private:
    session_user s_;
    std::size_t buffer_size_;
};

// Socket options and addresses are the transport's; input and output go through TLS.
class tls_connection final : public connected_socket_impl {
public:
    explicit tls_connection(std::shared_ptr<session> s) noexcept : s_(std::move(s)) {}

    data_source source(const input_options&) override {
        return data_source(std::make_unique<tls_source>(s_.get()));
    }
    data_sink sink(std::size_t buffer_size) override {
        return data_sink(std::make_unique<tls_sink>(s_.get(), buffer_size));
    }
    void shutdown_input() override { s_->shutdown_input(); }
    void shutdown_output() override { s_->shutdown_output(); }

    void set_nodelay(bool on) override { t().set_nodelay(on); }
    bool get_nodelay() const override { return t().get_nodelay(); }
    void set_keepalive(bool on) override { t().set_keepalive(on); }
    bool get_keepalive() const override { return t().get_keepalive(); }
    void set_keepalive_parameters(const keepalive_params& p) override { t().set_keepalive_parameters(p); }
    keepalive_params get_keepalive_parameters() const override { return t().get_keepalive_parameters(); }
    void set_send_buffer_size(std::size_t bytes) override { t().set_send_buffer_size(bytes); }
    std::size_t get_send_buffer_size() const override { return t().get_send_buffer_size(); }
    void set_receive_buffer_size(std::size_t bytes) override { t().set_receive_buffer_size(bytes); }
    std::size_t get_receive_buffer_size() const override { return t().get_receive_buffer_size(); }
    socket_address local_address() const override { return t().local_address(); }
    socket_address remote_address() const override { return t().remote_address(); }

    const std::shared_ptr<session>& get() const noexcept { return s_.get(); }

private:
    connected_socket& t() const noexcept { return s_->transport(); }

    session_user s_;
};

// What a TLS listening socket shares with its accept() in flight, which may outlive it.
struct listener_state {
    server_socket plain;
    server_credentials creds;
    tls_options opts;
};

class tls_server_socket final : public server_socket_impl {
public:
    explicit tls_server_socket(std::shared_ptr<listener_state> st) noexcept : st_(std::move(st)) {}

    future<accept_result> accept() override {
        return st_->plain.accept().then([st = st_](accept_result r) {
            r.connection = wrap_server(st->creds, std::move(r.connection), st->opts);
            return r;
        });
    }
    void abort_accept() override { st_->plain.abort_accept(); }
    socket_address local_address() const override { return st_->plain.local_address(); }

private:
    std::shared_ptr<listener_state> st_;
};

std::shared_ptr<session> session_of(const connected_socket& s) {
    auto* c = dynamic_cast<tls_connection*>(s.impl());
    if (!c) {
        throw std::invalid_argument("not a TLS connection");
    }
    return c->get();
}

void check_server_keys(const server_credentials& creds) {
    if (creds.get_impl()->keys == 0) {
        throw_tls_error(GNUTLS_E_INSUFFICIENT_CREDENTIALS,
                        "TLS server credentials hold no certificate and key");
    }
}

}  // namespace

connected_socket wrap_client(const certificate_credentials& creds, connected_socket s, tls_options opts) {
    auto sess =
        std::make_shared<session>(session::role::client, creds.get_impl(), std::move(s), std::move(opts));
    return connected_socket(std::make_unique<tls_connection>(std::move(sess)));
}

connected_socket wrap_server(const server_credentials& creds, connected_socket s, tls_options opts) {
    auto sess =
        std::make_shared<session>(session::role::server, creds.get_impl(), std::move(s), std::move(opts));
    // A server handshakes at once: a client whose first write waits for the handshake
    // must not depend on the server application reading first.
    sess->start_handshake();
    return connected_socket(std::make_unique<tls_connection>(std::move(sess)));
}

future<connected_socket> connect(const certificate_credentials& creds, const socket_address& remote,
                                 tls_options opts, const connect_options& copts) {
    return net::connect(remote, {}, copts).then([creds, opts = std::move(opts)](connected_socket s) mutable {
        return wrap_client(creds, std::move(s), std::move(opts));
    });
}

server_socket listen(const server_credentials& creds, const socket_address& addr, const listen_options& lopts,
                     tls_options opts) {
    check_server_keys(creds);
    return listen(creds, net::listen(addr, lopts), std::move(opts));
}

server_socket listen(const server_credentials& creds, server_socket plain, tls_options opts) {
    check_server_keys(creds);
    auto st = std::make_shared<listener_state>(listener_state{std::move(plain), creds, std::move(opts)});
    return server_socket(std::make_unique<tls_server_socket>(std::move(st)));
}

bool is_tls(const connected_socket& s) noexcept {
    return dynamic_cast<tls_connection*>(s.impl()) != nullptr;
}

future<> check_handshake(connected_socket& s) {
    return session_of(s)->handshake();
}

std::optional<std::string> resumption_data(connected_socket& s) {
    return session_of(s)->resumption_data();
}

future<session_info> get_session_info(connected_socket& s) {
    auto sess = session_of(s);
    auto hs = sess->handshake();
    return hs.then([sess = std::move(sess)] { return sess->info(); });
}

}  // namespace reef::net::tls
