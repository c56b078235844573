// TLS (on GnuTLS) over any connected_socket: credentials, client and server sessions,
// SNI, ALPN, certificate verification and orderly close_notify.
//   reef::net::tls::certificate_credentials creds;  creds.set_system_trust();
//   auto s = co_await reef::net::tls::connect(creds, addr, {.server_name = "example.org"});
//   auto in = s.input();  auto out = s.output();   // plain bytes; TLS underneath
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <reef/core/future.hh>
#include <reef/net/connected_socket.hh>
#include <reef/net/server_socket.hh>
#include <reef/net/socket_address.hh>
#include <reef/net/socket_options.hh>

namespace reef::net::tls {

/// The category of tls_error codes: GnuTLS's (negative) error codes, whose message()
/// is GnuTLS's description of the code.
const std::error_category& error_category() noexcept;

/// A TLS failure: the handshake failed, the peer sent a fatal alert, a record was bad,
/// the peer closed without close_notify, credentials could not be loaded. code() holds
/// the GnuTLS error code in error_category(); what() says what was being done and why.
class tls_error : public std::system_error {
public:
    tls_error(int gnutls_code, const std::string& what);
};

/// The peer's certificate did not verify: unknown issuer, wrong name, expired, revoked,
/// ... what() carries GnuTLS's text for the reasons; status() the raw
/// gnutls_certificate_status_t bits.
class verification_error : public tls_error {
public:
    verification_error(unsigned status, const std::string& what);
    /// The GnuTLS verification status bits (GNUTLS_CERT_INVALID, ..._SIGNER_NOT_FOUND,
    /// ..._EXPIRED, ..._UNEXPECTED_OWNER, ...).
    unsigned status() const noexcept { return status_; }

private:
    unsigned status_;
};

/// The handshake did not finish within tls_options::handshake_timeout. The connection
/// is shut down in both directions.
class handshake_timeout_error : public tls_error {
public:
    explicit handshake_timeout_error(const std::string& what);
};

/// How certificates and keys are encoded.
enum class x509_format { pem, der };

/// Whether a server asks the client for a certificate.
enum class client_auth {
    /// It does not ask.
    none,
    /// It asks; a client without one is still accepted (a certificate that is sent must
    /// verify when verification is on).
    request,
    /// It asks and fails the handshake when the client sends none.
    require,
};

/// Whether the peer's certificate is verified (the chain against the trust store, the
/// validity dates, and on the client side the server's name). Turn it off in tests only.
enum class verification { on, off };

/// What a read returns when the peer's connection ends without a TLS close_notify
/// (which lets an attacker cut a stream short unnoticed).
enum class unclean_close {
    /// The read fails with tls_error (GNUTLS_E_PREMATURE_TERMINATION).
    error,
    /// The read returns end of stream, as for an orderly close.
    end_of_stream,
};

/// X.509 credentials: the trust store that peers' certificates are verified against,
/// and this end's own certificate chains and keys (a client's for client
/// authentication, a server's; a server may hold several and picks the one matching the
/// SNI name). A handle: copies share one GnuTLS credentials object, which sessions on
/// any shard may use at the same time once it is set up. Set it up before the first
/// session uses it (setters are not synchronized with sessions). The setters read files
/// with blocking calls: call them at start-up. They throw tls_error when a file cannot
/// be read or parsed.
class certificate_credentials {
public:
    /// Empty credentials: no trust, no certificate.
    certificate_credentials();
    ~certificate_credentials();
    certificate_credentials(const certificate_credentials&) noexcept;
    certificate_credentials& operator=(const certificate_credentials&) noexcept;
    certificate_credentials(certificate_credentials&&) noexcept;
    certificate_credentials& operator=(certificate_credentials&&) noexcept;

    /// Adds the system's trust store (Debian: /etc/ssl/certs/ca-certificates.crt).
    /// Returns how many certificates were added.
    std::size_t set_system_trust();
    /// Adds the CA certificates of a file. Returns how many were added.
    std::size_t set_x509_trust_file(const std::string& path, x509_format format = x509_format::pem);
    /// Adds the CA certificates held in memory. Returns how many were added.
    std::size_t set_x509_trust(std::string_view certificates, x509_format format = x509_format::pem);
    /// Adds a certificate chain (leaf first) and its private key, from files.
    void set_x509_key_file(const std::string& cert_path, const std::string& key_path,
                           x509_format format = x509_format::pem);
    /// Adds a certificate chain (leaf first) and its private key, held in memory.
    void set_x509_key(std::string_view cert, std::string_view key, x509_format format = x509_format::pem);

    /// The GnuTLS objects behind the handle; defined in net-posix's sources.
    class impl;
    /// For the TLS implementation.
    const std::shared_ptr<impl>& get_impl() const noexcept { return impl_; }

protected:
    std::shared_ptr<impl> impl_;
};

/// A server's credentials: at least one certificate chain and key, and whether to ask
/// clients for certificates (verified against the trust store). A handle like
/// certificate_credentials.
class server_credentials : public certificate_credentials {
public:
    server_credentials();
    /// Whether clients are asked for a certificate. Default: none.
    void set_client_auth(client_auth mode);
    client_auth get_client_auth() const noexcept;

    /// Lets clients resume sessions: servers using these credentials issue session
    /// tickets (TLS 1.3 NewSessionTicket after the handshake, TLS 1.2 SessionTicket in
    /// it) sealed with a key made here at random, and accept the tickets clients bring
    /// back (tls_options::resume_from), which skips the certificate exchange and its
    /// verification. Every session using this handle, on any shard, shares the key; it
    /// lives as long as the credentials, so a restarted server runs full handshakes
    /// with its old clients. Call before sessions use the credentials. Idempotent.
    /// Throws tls_error when no key can be made.
    void enable_session_resumption();
    /// Whether enable_session_resumption() was called.
    bool session_resumption_enabled() const noexcept;
};

/// Per-connection settings.
struct tls_options {
    /// Client: the name sent as SNI and that the server's certificate must match. When
    /// empty, no SNI is sent and the certificate must match the remote IP address (an
    /// IP literal here does the same). Ignored by servers.
    std::string server_name;
    /// ALPN protocols, in order of preference ("h2", "http/1.1"). Empty: no ALPN. A
    /// server picks its own most preferred protocol that the client offers.
    std::vector<std::string> alpn_protocols;
    /// Whether the peer's certificate is verified. A server verifies client certificates
    /// only when it asks for them (server_credentials::set_client_auth).
    verification verify = verification::on;
    /// What a read returns when the connection ends without close_notify.
    unclean_close on_unclean_close = unclean_close::error;
    /// The handshake fails with handshake_timeout_error after this long; zero: no limit.
    std::chrono::milliseconds handshake_timeout{10'000};
    /// A GnuTLS priority string ("NORMAL:-VERS-TLS1.2"); empty: the system's default.
    std::string priority;
    /// Client: what resumption_data() returned for an earlier connection to the same
    /// server (same address and server_name); the handshake then offers to resume that
    /// session. A server that does not take it (resumption not enabled, another key,
    /// an expired ticket) runs a full handshake, verification included, as does data
    /// that is not valid. Ignored by servers.
    std::string resume_from;
};

/// Wraps a connected socket as the client end of a TLS session. Returns at once; the
/// handshake runs on the first read, write or check_handshake(). The result belongs
/// to this shard; `creds` is kept alive by it. Throws tls_error for a bad priority.
connected_socket wrap_client(const certificate_credentials& creds, connected_socket s, tls_options opts = {});

/// Wraps a connected socket as the server end of a TLS session. The handshake starts at
/// once in the background (a client waiting for its first write must not depend on
/// the server application reading first); I/O and check_handshake() wait for it.
/// Throws tls_error for a bad priority or credentials without a certificate.
connected_socket wrap_server(const server_credentials& creds, connected_socket s, tls_options opts = {});

/// Connects to `remote` with this shard's default network stack and wraps the
/// connection with wrap_client(). Fails as net::connect() does; TLS failures come at
/// the first I/O or check_handshake().
future<connected_socket> connect(const certificate_credentials& creds, const socket_address& remote,
                                 tls_options opts = {}, const connect_options& copts = {});

/// Listens on `addr` with this shard's default network stack; each accepted connection
/// is wrapped with wrap_server(). Throws as net::listen() does.
server_socket listen(const server_credentials& creds, const socket_address& addr,
                     const listen_options& lopts = {}, tls_options opts = {});

/// A server socket whose accepted connections are those of `plain`, wrapped with
/// wrap_server().
server_socket listen(const server_credentials& creds, server_socket plain, tls_options opts = {});

/// True when `s` is a TLS connection made by this module.
bool is_tls(const connected_socket& s) noexcept;

/// Runs the handshake if it has not run, and resolves when it is done. Fails with
/// verification_error, handshake_timeout_error, tls_error (alerts, protocol errors, the
/// peer closing), or the connection's own error. Every later I/O fails the same way
/// after a failed handshake. Throws std::invalid_argument when `s` is not TLS.
future<> check_handshake(connected_socket& s);

/// What a completed handshake agreed on.
struct session_info {
    /// "TLS1.3", "TLS1.2".
    std::string protocol;
    /// GnuTLS's description of the session: "(TLS1.3)-(ECDHE-SECP256R1)-(...)-(AES-256-GCM)".
    std::string description;
    /// The protocol ALPN selected; nullopt when none was.
    std::optional<std::string> alpn_protocol;
    /// The SNI name: the one the client sent (server side) or sends (client side);
    /// empty when none.
    std::string server_name;
    /// The peer certificate's subject and issuer, as RFC 4514 strings ("CN=localhost");
    /// nullopt when the peer sent no certificate.
    std::optional<std::string> peer_subject;
    std::optional<std::string> peer_issuer;
    /// True when the handshake resumed an earlier session (tls_options::resume_from).
    bool resumed = false;
};

/// Runs or awaits the handshake as check_handshake() does, then describes the session.
future<session_info> get_session_info(connected_socket& s);

/// Client: what a later connection to the same server passes as
/// tls_options::resume_from to resume this session. Available once the server has sent
/// a ticket: in TLS 1.3 that comes after the handshake, with the first data the client
/// reads; nullopt before that, when the server sends none, and on server connections.
/// The bytes are secret (they hold the session's keys): keep them like a password.
/// Throws std::invalid_argument when `s` is not TLS.
std::optional<std::string> resumption_data(connected_socket& s);

}  // namespace reef::net::tls
