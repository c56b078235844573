// What a TLS credentials handle points at, and the error helpers the TLS sources
// share. Private to net-posix: the only place outside src/ that sees GnuTLS types.
#pragma once

#include <gnutls/gnutls.h>

#include <exception>
#include <string>

#include <reef/net/tls.hh>

namespace reef::net::tls {

/// One GnuTLS certificate credentials object. Set up by the handle's setters, then
/// only read by sessions (on any shard).
class certificate_credentials::impl {
public:
    impl();
    ~impl();
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    gnutls_certificate_credentials_t get() const noexcept { return cred_; }

    /// Server side: whether clients are asked for a certificate.
    client_auth auth = client_auth::none;
    /// How many certificate chains with keys were added (a server needs one).
    unsigned keys = 0;
    /// Server side: the session-ticket key (enable_session_resumption()); empty when
    /// resumption is off.
    gnutls_datum_t ticket_key{};

private:
    gnutls_certificate_credentials_t cred_ = nullptr;
};

/// tls_error(code, "<what>"), as an exception_ptr or thrown.
std::exception_ptr make_tls_error(int code, const std::string& what);
[[noreturn]] void throw_tls_error(int code, const std::string& what);

}  // namespace reef::net::tls
