// The TLS error category (GnuTLS codes and their descriptions) and the TLS exception
// types.
#include <gnutls/gnutls.h>

#include "tls_credentials.hh"

namespace reef::net::tls {

namespace {

class gnutls_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "tls"; }
    std::string message(int code) const override { return gnutls_strerror(code); }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const gnutls_category category;
    return category;
}

tls_error::tls_error(int gnutls_code, const std::string& what)
    : std::system_error(gnutls_code, error_category(), what) {}

verification_error::verification_error(unsigned status, const std::string& what)
    : tls_error(GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR, what),
      status_(status) {}

handshake_timeout_error::handshake_timeout_error(const std::string& what)
    : tls_error(GNUTLS_E_TIMEDOUT, what) {}

std::exception_ptr make_tls_error(int code, const std::string& what) {
    return std::make_exception_ptr(tls_error(code, what));
}

void throw_tls_error(int code, const std::string& what) {
    throw tls_error(code, what);
}

}  // namespace reef::net::tls
