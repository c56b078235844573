// The "dns" error category: c-ares's status codes and descriptions.
#include <ares.h>

#include <string>

#include <reef/net/dns.hh>

namespace reef::net::dns {

namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "dns"; }
    std::string message(int code) const override { return ares_strerror(code); }
};

}  // namespace

const std::error_category& dns_category() noexcept {
    static const category c;
    return c;
}

error::error(errc code, std::string name, const std::string& what)
    : std::system_error(make_error_code(code), what),
      name_(std::make_shared<const std::string>(std::move(name))) {}

}  // namespace reef::net::dns
