// A TLS session driven without blocking the shard.
//
// GnuTLS is given two callbacks instead of a descriptor. pull() copies from the bytes
// the transport delivered so far (`in_buf_`); when there are none it fails with EAGAIN,
// GnuTLS returns GNUTLS_E_AGAIN, and the session awaits the transport's next buffer and
// calls GnuTLS again. push() copies the records GnuTLS writes into an output chunk and
// always succeeds; after each GnuTLS call the new bytes are sealed into a share of the
// chunk and a writer hands them to the transport's sink in order, so GnuTLS never
// waits for the network either. Back-pressure: write() resolves once the writer is idle
// again, that is once the transport's sink accepted everything before it.
//
// Close: close_output() sends close_notify (gnutls_bye with GNUTLS_SHUT_WR) and then
// closes the transport's output. A close_notify from the peer makes read() return end
// of stream; the transport ending without one is an error, or the end of the stream
// when tls_options::on_unclean_close says so.
#include "tls_session.hh"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <gnutls/x509.h>

#include <reef/core/coroutine.hh>
#include <reef/net/inet_address.hh>

#include "tls_credentials.hh"

namespace reef::net::tls {

namespace {

// The largest plaintext of one TLS record: a read() asks GnuTLS for one record at most.
constexpr std::size_t max_record = 16384;
// Output chunks hold several records so that each record does not cost an allocation.
constexpr std::size_t chunk_size = 65536;
// Encrypting a large write checks for preemption after this many bytes.
constexpr std::size_t yield_every = 4 * max_record;

std::string gnutls_text(gnutls_datum_t& d) {
    std::string s(reinterpret_cast<const char*>(d.data), d.size);
    gnutls_free(d.data);
    d.data = nullptr;
    return s;
}

// "127.0.0.1", "::1": the form a certificate's IP addresses are matched against (no
// scope id).
std::string ip_text(const inet_address& a) {
    auto s = a.to_string();
    return s.substr(0, s.find('%'));
}

// The RFC 4514 subject and issuer of the peer's certificate, if it sent one.
std::optional<std::pair<std::string, std::string>> peer_certificate_names(gnutls_session_t s) {
    unsigned n = 0;
    const gnutls_datum_t* certs = gnutls_certificate_get_peers(s, &n);
    gnutls_x509_crt_t crt = nullptr;
    if (!certs || !n || gnutls_x509_crt_init(&crt) < 0) {
        return std::nullopt;
    }
    std::optional<std::pair<std::string, std::string>> names;
    gnutls_datum_t subject{};
    gnutls_datum_t issuer{};
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn3(crt, &subject, 0) == 0) {
        auto sub = gnutls_text(subject);
        if (gnutls_x509_crt_get_issuer_dn3(crt, &issuer, 0) == 0) {
            names.emplace(std::move(sub), gnutls_text(issuer));
        }
    }
    gnutls_x509_crt_deinit(crt);
    return names;
}

unsigned request_mode(client_auth a) noexcept {
    switch (a) {
        case client_auth::none:
            return GNUTLS_CERT_IGNORE;
        case client_auth::request:
            return GNUTLS_CERT_REQUEST;
        case client_auth::require:
            return GNUTLS_CERT_REQUIRE;
    }
    return GNUTLS_CERT_IGNORE;
}

}  // namespace

session::session(role r, std::shared_ptr<certificate_credentials::impl> creds, connected_socket transport,
                 tls_options opts)
    : role_(r),
      opts_(std::move(opts)),
      creds_(std::move(creds)),
      transport_(std::move(transport)) {
    if (role_ == role::server && creds_->keys == 0) {
        throw_tls_error(GNUTLS_E_INSUFFICIENT_CREDENTIALS,
                        "TLS server credentials hold no certificate and key");
    }
    in_ = transport_.impl()->source(input_options{});
    out_ = transport_.impl()->sink(chunk_size);
    try {
        remote_ = transport_.remote_address();
    } catch (...) {
        // Only used in messages: a transport without an address is described as such.
    }
    hs_timer_.set_callback([this] { on_handshake_timeout(); });

    int rc = gnutls_init(&s_, (role_ == role::client ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_NONBLOCK);
    if (rc < 0) {
        throw_tls_error(rc, "creating a TLS session");
    }
    try {
        if (opts_.priority.empty()) {
            rc = gnutls_set_default_priority(s_);
        } else {
            const char* bad = nullptr;
            rc = gnutls_priority_set_direct(s_, opts_.priority.c_str(), &bad);
            if (rc < 0) {
                throw_tls_error(rc, fmt::format("TLS priority string '{}' is not valid at '{}'",
                                                opts_.priority, bad ? bad : ""));
            }
        }
        if (rc >= 0) {
            rc = gnutls_credentials_set(s_, GNUTLS_CRD_CERTIFICATE, creds_->get());
        }
        if (rc < 0) {
            throw_tls_error(rc, "setting up a TLS session");
        }
        gnutls_transport_set_ptr(s_, this);
        gnutls_session_set_ptr(s_, this);
        gnutls_transport_set_pull_function(s_, &session::pull);
        gnutls_transport_set_push_function(s_, &session::push);
        gnutls_transport_set_pull_timeout_function(s_, &session::pull_timeout);
        // The session's own timer enforces tls_options::handshake_timeout.
        gnutls_handshake_set_timeout(s_, 0);

        if (!opts_.alpn_protocols.empty()) {
            std::vector<gnutls_datum_t> protos;
            for (auto& p : opts_.alpn_protocols) {
                protos.push_back(
                    gnutls_datum_t{reinterpret_cast<unsigned char*>(p.data()), unsigned(p.size())});
            }
            rc = gnutls_alpn_set_protocols(s_, protos.data(), unsigned(protos.size()),
                                           role_ == role::server ? GNUTLS_ALPN_SERVER_PRECEDENCE : 0);
            if (rc < 0) {
                throw_tls_error(rc, "setting the ALPN protocols");
            }
        }

        const bool verify = opts_.verify == verification::on;
        if (role_ == role::client) {
            // Tickets the server sends (TLS 1.3: after the handshake, read with the data).
            gnutls_handshake_set_hook_function(s_, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_POST,
                                               &session::on_ticket);
            if (!opts_.resume_from.empty()) {
                // Data that does not parse is ignored: the handshake is then a full one.
                gnutls_session_set_data(s_, opts_.resume_from.data(), opts_.resume_from.size());
            }
            const auto& name = opts_.server_name;
            const bool ip_literal = name.empty() || inet_address::parse(name).has_value();
            if (!ip_literal) {
                rc = gnutls_server_name_set(s_, GNUTLS_NAME_DNS, name.data(), name.size());
                if (rc < 0) {
                    throw_tls_error(rc, fmt::format("setting the TLS server name '{}'", name));
                }
            }
            if (verify) {
                verify_name_ = !name.empty()       ? name
                               : remote_.is_inet() ? ip_text(remote_.address())
                                                   : std::string();
                gnutls_session_set_verify_cert(s_, verify_name_.empty() ? nullptr : verify_name_.c_str(), 0);
            }
        } else {
            if (creds_->ticket_key.data) {
                rc = gnutls_session_ticket_enable_server(s_, &creds_->ticket_key);
                if (rc < 0) {
                    throw_tls_error(rc, "enabling TLS session tickets");
                }
            }
            gnutls_certificate_server_set_request(s_,
                                                  gnutls_certificate_request_t(request_mode(creds_->auth)));
            if (verify && creds_->auth == client_auth::require) {
                gnutls_session_set_verify_cert(s_, nullptr, 0);
            } else if (verify && creds_->auth == client_auth::request) {
                // GnuTLS's own check fails a client that sends no certificate; asked
                // for one, a client may send none, but one it sends must verify.
                gnutls_session_set_verify_function(s_, &session::verify_if_sent);
            }
        }
    } catch (...) {
        gnutls_deinit(s_);
        throw;
    }
}

session::~session() {
    gnutls_deinit(s_);
}

int session::on_ticket(gnutls_session_t s, unsigned, unsigned, unsigned incoming, const gnutls_datum_t*) noexcept {
    if (incoming) {
        static_cast<session*>(gnutls_session_get_ptr(s))->ticket_received_ = true;
    }
    return 0;
}

std::optional<std::string> session::resumption_data() const {
    if (role_ != role::client || hs_ != handshake_state::done) {
        return std::nullopt;
    }
    // A resumed TLS 1.2 session may get no new ticket: the one it resumed with stays
    // good. TLS 1.3 servers send a new one after every handshake.
    const bool resumed12 = gnutls_session_is_resumed(s_) && gnutls_protocol_get_version(s_) != GNUTLS_TLS1_3;
    if (!ticket_received_ && !resumed12) {
        return std::nullopt;
    }
    gnutls_datum_t d{};
    if (gnutls_session_get_data2(s_, &d) < 0) {
        return std::nullopt;
    }
    std::string out(reinterpret_cast<const char*>(d.data), d.size);
    gnutls_memset(d.data, 0, d.size);
    gnutls_free(d.data);
    return out;
}

ssize_t session::pull(gnutls_transport_ptr_t p, void* data, std::size_t len) noexcept {
    auto* self = static_cast<session*>(p);
    auto& b = self->in_buf_;
    if (b.empty()) {
        if (self->in_eof_) {
            return 0;
        }
        gnutls_transport_set_errno(self->s_, EAGAIN);
        return -1;
    }
    std::size_t n = std::min(len, b.size());
    std::memcpy(data, b.get(), n);
    b.trim_front(n);
    return ssize_t(n);
}

ssize_t session::push(gnutls_transport_ptr_t p, const void* data, std::size_t len) noexcept {
    auto* self = static_cast<session*>(p);
    try {
        self->append_output(static_cast<const char*>(data), len);
    } catch (...) {
        gnutls_transport_set_errno(self->s_, ENOMEM);
        return -1;
    }
    return ssize_t(len);
}

int session::verify_if_sent(gnutls_session_t s) noexcept {
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0) {
        return 0;
    }
    unsigned status = 0;
    int r = gnutls_certificate_verify_peers3(s, nullptr, &status);
    if (r < 0 || status != 0) {
        static_cast<session*>(gnutls_session_get_ptr(s))->verify_status_ =
            r < 0 ? GNUTLS_CERT_INVALID : status;
        return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
    }
    return 0;
}

// Not called in non-blocking mode; GnuTLS asks that it be set with a custom pull.
int session::pull_timeout(gnutls_transport_ptr_t p, unsigned) noexcept {
    auto* self = static_cast<session*>(p);
    return !self->in_buf_.empty() || self->in_eof_ ? 1 : 0;
}

void session::append_output(const char* p, std::size_t n) {
    if (chunk_.size() - chunk_used_ < n) {
        seal_output();
        chunk_ = temporary_buffer<char>(std::max(n, chunk_size));
        chunk_start_ = chunk_used_ = 0;
    }
    std::memcpy(chunk_.get_write() + chunk_used_, p, n);
    chunk_used_ += n;
}

void session::seal_output() {
    if (chunk_used_ > chunk_start_) {
        out_pending_.push_back(chunk_.share(chunk_start_, chunk_used_ - chunk_start_));
        chunk_start_ = chunk_used_;
    }
}

void session::kick_output() noexcept {
    try {
        seal_output();
    } catch (...) {
        if (!out_error_) {
            out_error_ = std::current_exception();
        }
    }
    if (sink_closed_ || out_error_) {
        out_pending_.clear();
        return;
    }
    if (!writing_ && !out_pending_.empty()) {
        writing_ = true;
        (void)write_pending();
    }
}

// The writer: one put() at a time, as data_sink requires, of everything sealed so far.
future<> session::write_pending() {
    auto self = shared_from_this();
    while (!out_pending_.empty()) {
        auto bufs = std::exchange(out_pending_, {});
        auto f = co_await coroutine::as_future(out_.put(std::move(bufs)));
        if (f.failed()) {
            out_error_ = f.get_exception();
            out_pending_.clear();
        }
    }
    writing_ = false;
    for (auto& w : std::exchange(drain_waiters_, {})) {
        if (out_error_) {
            w.set_exception(out_error_);
        } else {
            w.set_value();
        }
    }
}

future<> session::drain_output() {
    kick_output();
    if (out_error_) {
        return make_exception_future<>(out_error_);
    }
    if (!writing_) {
        return make_ready_future<>();
    }
    drain_waiters_.emplace_back();
    return drain_waiters_.back().get_future();
}

bool session::needs_input(std::size_t before) const noexcept {
    // GNUTLS_E_AGAIN also comes after GnuTLS dealt with a message that carries no
    // application data (a TLS 1.3 session ticket); then received bytes may be left,
    // and the call is simply repeated.
    return in_buf_.empty() || in_buf_.size() == before;
}

future<> session::fill_input() {
    if (in_eof_) {
        return make_ready_future<>();
    }
    return in_.get().then([self = shared_from_this()](temporary_buffer<char> b) {
        if (b.empty()) {
            self->in_eof_ = true;
        } else if (self->in_buf_.empty()) {
            self->in_buf_ = std::move(b);
        } else {
            // GnuTLS left a partial record unread: keep it in front of the new bytes.
            temporary_buffer<char> joined(self->in_buf_.size() + b.size());
            std::memcpy(joined.get_write(), self->in_buf_.get(), self->in_buf_.size());
            std::memcpy(joined.get_write() + self->in_buf_.size(), b.get(), b.size());
            self->in_buf_ = std::move(joined);
        }
    });
}

void session::start_handshake() {
    if (hs_ == handshake_state::idle) {
        hs_ = handshake_state::running;
        (void)run_handshake();
    }
}

future<> session::handshake() {
    start_handshake();
    switch (hs_) {
        case handshake_state::done:
            return make_ready_future<>();
        case handshake_state::failed:
            return make_exception_future<>(hs_error_);
        case handshake_state::idle:
        case handshake_state::running:
            break;
    }
    hs_waiters_.emplace_back();
    return hs_waiters_.back().get_future();
}

future<> session::run_handshake() {
    auto self = shared_from_this();
    if (opts_.handshake_timeout.count() > 0) {
        hs_timer_.arm(opts_.handshake_timeout);
    }
    std::exception_ptr err;
    for (;;) {
        const std::size_t before = in_buf_.size();
        int r = gnutls_handshake(s_);
        kick_output();
        if (r == GNUTLS_E_SUCCESS) {
            break;
        }
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            if (needs_input(before) && in_eof_ && !timed_out_ && !abandoned_) {
                err = handshake_failure(GNUTLS_E_PREMATURE_TERMINATION);  // nothing more will come
            } else if (!timed_out_ && needs_input(before)) {
                auto f = co_await coroutine::as_future(fill_input());
                if (f.failed()) {
                    err = f.get_exception();
                }
            }
            if (abandoned_ && !err) {
                err = make_tls_error(
                    GNUTLS_E_INTERRUPTED,
                    fmt::format("TLS handshake with {}: the connection was dropped", peer_name()));
            }
            if (timed_out_) {
                err = std::make_exception_ptr(
                    handshake_timeout_error(fmt::format("TLS handshake with {}: no answer within {} ms",
                                                        peer_name(), opts_.handshake_timeout.count())));
            }
            if (err) {
                break;
            }
            continue;
        }
        if (!gnutls_error_is_fatal(r)) {
            continue;  // a warning alert: the handshake goes on
        }
        err = handshake_failure(r);
        // Tell the peer why, unless it told us (a received alert needs no answer).
        if (r != GNUTLS_E_FATAL_ALERT_RECEIVED) {
            gnutls_alert_send_appropriate(s_, r);
            kick_output();
        }
        break;
    }
    hs_timer_.cancel();
    if (!err) {
        // The last flight (the client's Finished) must reach the peer even when the
        // application only reads next.
        auto f = co_await coroutine::as_future(drain_output());
        if (f.failed()) {
            err = f.get_exception();
        }
    } else {
        // Best effort: the alert goes out before the caller gives up on the connection.
        auto f = co_await coroutine::as_future(drain_output());
        f.ignore_ready_future();
    }
    finish_handshake(std::move(err));
}

void session::finish_handshake(std::exception_ptr e) noexcept {
    hs_error_ = std::move(e);
    hs_ = hs_error_ ? handshake_state::failed : handshake_state::done;
    for (auto& w : std::exchange(hs_waiters_, {})) {
        if (hs_error_) {
            w.set_exception(hs_error_);
        } else {
            w.set_value();
        }
    }
}

void session::abandon() noexcept {
    abandoned_ = true;
    if (hs_ == handshake_state::running) {
        try {
            transport_.shutdown_input();
        } catch (...) {
        }
    }
}

void session::on_handshake_timeout() noexcept {
    timed_out_ = true;
    // Wakes the read the handshake waits for (it returns end of stream), and lets the
    // peer know the connection is over.
    try {
        transport_.shutdown_input();
    } catch (...) {
    }
    try {
        transport_.shutdown_output();
    } catch (...) {
    }
}

future<temporary_buffer<char>> session::read() {
    if (hs_ != handshake_state::done) {
        co_await coroutine::try_future(handshake());
    }
    temporary_buffer<char> buf;
    for (;;) {
        if (input_shut_ || in_closed_) {
            co_return temporary_buffer<char>();
        }
        if (in_error_) {
            co_return coroutine::exception(in_error_);
        }
        if (buf.empty()) {
            buf = temporary_buffer<char>(max_record);
        }
        const std::size_t before = in_buf_.size();
        ssize_t r = gnutls_record_recv(s_, buf.get_write(), buf.size());
        // Reading may answer the peer (a key update, an alert).
        kick_output();
        if (r > 0) {
            buf.trim(std::size_t(r));
            co_return buf;
        }
        if (r == 0) {
            in_closed_ = true;  // close_notify
            continue;
        }
        if ((r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) && needs_input(before)) {
            if (in_eof_) {
                // GnuTLS reports the transport's end itself; should it ask for more
                // instead, the answer is the same: nothing more will come.
                r = GNUTLS_E_PREMATURE_TERMINATION;
            } else {
                auto f = co_await coroutine::as_future(fill_input());
                if (f.failed()) {
                    in_error_ = f.get_exception();
                }
                continue;
            }
        }
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            continue;  // bytes are left that GnuTLS has not looked at yet
        }
        if (r == GNUTLS_E_REHANDSHAKE) {
            // A TLS 1.2 server asks to renegotiate; refusing is allowed and is all we do.
            gnutls_alert_send(s_, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
            kick_output();
            continue;
        }
        if (!gnutls_error_is_fatal(int(r))) {
            continue;  // a warning alert
        }
        if (r == GNUTLS_E_PREMATURE_TERMINATION && opts_.on_unclean_close == unclean_close::end_of_stream) {
            in_closed_ = true;
            continue;
        }
        in_error_ = failure(int(r), "reading from");
    }
}

future<> session::write(temporary_buffer<char> buf) {
    if (hs_ != handshake_state::done) {
        co_await coroutine::try_future(handshake());
    }
    if (closing_) {
        co_await coroutine::exception(
            make_tls_error(GNUTLS_E_INVALID_SESSION,
                           fmt::format("TLS write to {} after its output was closed", peer_name())));
    }
    const char* p = buf.get();
    std::size_t left = buf.size();
    std::size_t since_yield = 0;
    while (left) {
        if (out_error_) {
            co_await coroutine::exception(out_error_);
        }
        ssize_t r = gnutls_record_send(s_, p, left);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            // push() never refuses bytes, so GnuTLS should not ask for this; if it does,
            // let the queue drain and call again with the same data, as it requires.
            co_await coroutine::try_future(drain_output());
            continue;
        }
        if (r < 0) {
            co_await coroutine::exception(failure(int(r), "writing to"));
        }
        p += r;
        left -= std::size_t(r);
        since_yield += std::size_t(r);
        if (since_yield >= yield_every) {
            since_yield = 0;
            kick_output();
            co_await coroutine::maybe_yield();
        }
    }
    co_await coroutine::try_future(drain_output());
}

future<> session::flush() {
    co_await coroutine::try_future(drain_output());
    if (!sink_closed_) {
        co_await coroutine::try_future(out_.flush());
    }
}

future<> session::close_output() {
    if (closing_) {
        co_return;
    }
    closing_ = true;
    auto self = shared_from_this();
    std::exception_ptr err;
    auto h = co_await coroutine::as_future(handshake());
    if (h.failed()) {
        err = h.get_exception();
    } else if (!bye_sent_) {
        bye_sent_ = true;
        int r = gnutls_bye(s_, GNUTLS_SHUT_WR);
        if (r < 0 && r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
            err = failure(r, "closing the connection to");
        }
    }
    auto d = co_await coroutine::as_future(drain_output());
    if (d.failed()) {
        if (!err) {
            err = d.get_exception();
        } else {
            d.ignore_ready_future();
        }
    }
    sink_closed_ = true;
    auto c = co_await coroutine::as_future(out_.close());
    if (c.failed()) {
        if (!err) {
            err = c.get_exception();
        } else {
            c.ignore_ready_future();
        }
    }
    if (err) {
        co_await coroutine::exception(std::move(err));
    }
}

void session::shutdown_input() {
    input_shut_ = true;
    transport_.shutdown_input();
}

void session::shutdown_output() {
    if (closing_) {
        return;
    }
    if (hs_ != handshake_state::done) {
        closing_ = true;
        sink_closed_ = true;
        transport_.shutdown_output();
        return;
    }
    (void)shut_output_after_drain();
}

future<> session::shut_output_after_drain() {
    auto self = shared_from_this();
    closing_ = true;
    bye_sent_ = true;
    gnutls_bye(s_, GNUTLS_SHUT_WR);
    auto d = co_await coroutine::as_future(drain_output());
    d.ignore_ready_future();
    sink_closed_ = true;
    try {
        transport_.shutdown_output();
    } catch (...) {
    }
}

std::string session::peer_name() const {
    if (role_ == role::client && !opts_.server_name.empty()) {
        return fmt::format("{} ({})", opts_.server_name, remote_);
    }
    return remote_.is_unspecified() ? std::string("the peer") : remote_.to_string();
}

std::exception_ptr session::failure(int code, const char* doing) const {
    if (code == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        return make_tls_error(code, fmt::format("TLS {} {}: the peer sent the fatal alert '{}'", doing,
                                                peer_name(), gnutls_alert_get_name(gnutls_alert_get(s_))));
    }
    if (code == GNUTLS_E_PREMATURE_TERMINATION) {
        return make_tls_error(
            code, fmt::format("TLS {} {}: the connection ended without a close_notify", doing, peer_name()));
    }
    return make_tls_error(code, fmt::format("TLS {} {}", doing, peer_name()));
}

std::exception_ptr session::handshake_failure(int code) const {
    const auto peer = peer_name();
    switch (code) {
        case GNUTLS_E_CERTIFICATE_ERROR:
            if (!verify_status_) {
                break;
            }
            [[fallthrough]];
        case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR: {
            unsigned status = verify_status_ ? verify_status_ : gnutls_session_get_verify_cert_status(s_);
            gnutls_datum_t text{};
            std::string reasons = "unknown reason";
            if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0) {
                reasons = gnutls_text(text);
                while (!reasons.empty() && reasons.back() == ' ') {
                    reasons.pop_back();
                }
            }
            auto names = peer_certificate_names(s_);
            auto which =
                names ? fmt::format(" ({}, issued by {})", names->first, names->second) : std::string();
            return std::make_exception_ptr(verification_error(
                status, fmt::format("TLS handshake with {}: the peer's certificate{} is rejected: {}", peer,
                                    which, reasons)));
        }
        case GNUTLS_E_FATAL_ALERT_RECEIVED:
            return failure(code, "handshake with");
        case GNUTLS_E_PREMATURE_TERMINATION:
        case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
            if (in_eof_) {
                return make_tls_error(
                    code, fmt::format("TLS handshake with {}: the peer closed the connection", peer));
            }
            break;
        case GNUTLS_E_NO_CERTIFICATE_FOUND:
        case GNUTLS_E_CERTIFICATE_REQUIRED:
            if (role_ == role::server) {
                return make_tls_error(
                    code,
                    fmt::format("TLS handshake with {}: the client sent no certificate and one is required",
                                peer));
            }
            break;
        default:
            break;
    }
    return make_tls_error(code, fmt::format("TLS handshake with {} failed", peer));
}

session_info session::info() const {
    session_info i;
    if (const char* p = gnutls_protocol_get_name(gnutls_protocol_get_version(s_))) {
        i.protocol = p;
    }
    if (char* d = gnutls_session_get_desc(s_)) {
        i.description = d;
        gnutls_free(d);
    }
    gnutls_datum_t alpn{};
    if (gnutls_alpn_get_selected_protocol(s_, &alpn) == 0) {
        i.alpn_protocol.emplace(reinterpret_cast<const char*>(alpn.data), alpn.size);
    }
    if (role_ == role::server) {
        char name[256];
        std::size_t len = sizeof(name);
        unsigned type = 0;
        if (gnutls_server_name_get(s_, name, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS) {
            i.server_name.assign(name, len);
        }
    } else if (!opts_.server_name.empty() && !inet_address::parse(opts_.server_name)) {
        i.server_name = opts_.server_name;
    }
    if (auto names = peer_certificate_names(s_)) {
        i.peer_subject = std::move(names->first);
        i.peer_issuer = std::move(names->second);
    }
    i.resumed = gnutls_session_is_resumed(s_) != 0;
    return i;
}

}  // namespace reef::net::tls
