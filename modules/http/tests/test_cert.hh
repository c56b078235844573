// A self-signed certificate for localhost and 127.0.0.1, made with openssl ($REEF_OPENSSL)
// when a test needs one, loaded as server credentials and as a trust store that knows it.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <reef/net/tls.hh>

namespace http_test {

struct test_cert {
    reef::net::tls::server_credentials server;
    reef::net::tls::certificate_credentials trust;
};

/// Makes the certificate and its key in a temporary directory (blocking calls), loads
/// them and removes the directory. nullopt when $REEF_OPENSSL is not set (the test is
/// then skipped); throws std::runtime_error when openssl fails.
inline std::optional<test_cert> make_test_cert() {
    const char* openssl = std::getenv("REEF_OPENSSL");
    if (!openssl || !*openssl) {
        return std::nullopt;
    }
    char tmpl[] = "/tmp/reef-http-cert-XXXXXX";
    if (!::mkdtemp(tmpl)) {
        throw std::runtime_error("mkdtemp failed");
    }
    std::filesystem::path dir = tmpl;
    auto cert = (dir / "cert.pem").string();
    auto key = (dir / "key.pem").string();
    auto cmd = fmt::format(
        "{} req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {} -out {} -days 1 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
        openssl, key, cert);
    if (std::system(cmd.c_str()) != 0) {
        std::filesystem::remove_all(dir);
        throw std::runtime_error("openssl req failed: " + cmd);
    }
    test_cert c;
    c.server.set_x509_key_file(cert, key);
    c.trust.set_x509_trust_file(cert);
    std::filesystem::remove_all(dir);
    return c;
}

}  // namespace http_test
