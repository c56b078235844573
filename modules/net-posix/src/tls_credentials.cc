// X.509 credentials for TLS sessions: trust stores and certificate chains with keys,
// loaded from files or memory into one GnuTLS credentials object per handle.
#include <fmt/format.h>

#include "tls_credentials.hh"

namespace reef::net::tls {

namespace {

gnutls_x509_crt_fmt_t gnutls_format(x509_format f) noexcept {
    return f == x509_format::pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
}

gnutls_datum_t datum_of(std::string_view s) noexcept {
    // GnuTLS only reads through the pointer of an input datum.
    return gnutls_datum_t{reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())), unsigned(s.size())};
}

std::size_t count_added(int r, const std::string& what) {
    if (r < 0) {
        throw_tls_error(r, what);
    }
    if (r == 0) {
        throw_tls_error(GNUTLS_E_NO_CERTIFICATE_FOUND, what + ": it holds no certificate");
    }
    return std::size_t(r);
}

}  // namespace

certificate_credentials::impl::impl() {
    int r = gnutls_certificate_allocate_credentials(&cred_);
    if (r < 0) {
        throw_tls_error(r, "allocating TLS credentials");
    }
}

certificate_credentials::impl::~impl() {
    if (ticket_key.data) {
        gnutls_memset(ticket_key.data, 0, ticket_key.size);
        gnutls_free(ticket_key.data);
    }
    gnutls_certificate_free_credentials(cred_);
}

certificate_credentials::certificate_credentials() : impl_(std::make_shared<impl>()) {}
certificate_credentials::~certificate_credentials() = default;
certificate_credentials::certificate_credentials(const certificate_credentials&) noexcept = default;
certificate_credentials& certificate_credentials::operator=(const certificate_credentials&) noexcept =
    default;
certificate_credentials::certificate_credentials(certificate_credentials&&) noexcept = default;
certificate_credentials& certificate_credentials::operator=(certificate_credentials&&) noexcept = default;

std::size_t certificate_credentials::set_system_trust() {
    return count_added(gnutls_certificate_set_x509_system_trust(impl_->get()),
                       "loading the system trust store");
}

std::size_t certificate_credentials::set_x509_trust_file(const std::string& path, x509_format format) {
    return count_added(
        gnutls_certificate_set_x509_trust_file(impl_->get(), path.c_str(), gnutls_format(format)),
        fmt::format("loading trusted certificates from {}", path));
}

std::size_t certificate_credentials::set_x509_trust(std::string_view certificates, x509_format format) {
    auto d = datum_of(certificates);
    return count_added(gnutls_certificate_set_x509_trust_mem(impl_->get(), &d, gnutls_format(format)),
                       "loading trusted certificates from memory");
}

void certificate_credentials::set_x509_key_file(const std::string& cert_path, const std::string& key_path,
                                                x509_format format) {
    int r = gnutls_certificate_set_x509_key_file2(impl_->get(), cert_path.c_str(), key_path.c_str(),
                                                  gnutls_format(format), nullptr, 0);
    if (r < 0) {
        throw_tls_error(r, fmt::format("loading the certificate {} and key {}", cert_path, key_path));
    }
    ++impl_->keys;
}

void certificate_credentials::set_x509_key(std::string_view cert, std::string_view key, x509_format format) {
    auto c = datum_of(cert);
    auto k = datum_of(key);
    int r = gnutls_certificate_set_x509_key_mem2(impl_->get(), &c, &k, gnutls_format(format), nullptr, 0);
    if (r < 0) {
        throw_tls_error(r, "loading a certificate and key from memory");
    }
    ++impl_->keys;
}

server_credentials::server_credentials() = default;

void server_credentials::set_client_auth(client_auth mode) {
    impl_->auth = mode;
}

client_auth server_credentials::get_client_auth() const noexcept {
    return impl_->auth;
}

void server_credentials::enable_session_resumption() {
    if (impl_->ticket_key.data) {
        return;
    }
    int r = gnutls_session_ticket_key_generate(&impl_->ticket_key);
    if (r < 0) {
        impl_->ticket_key = {};
        throw_tls_error(r, "making a TLS session-ticket key");
    }
}

bool server_credentials::session_resumption_enabled() const noexcept {
    return impl_->ticket_key.data != nullptr;
}

}  // namespace reef::net::tls
