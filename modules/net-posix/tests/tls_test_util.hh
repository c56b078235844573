// Helpers of the TLS tests: certificates made at test time with openssl (a CA, leaves
// it signed, a self-signed one, an expired one, a client's), and a connected_socket
// pair in memory whose wire the test controls (fragmenting it, cutting it without a TLS
// close_notify). They report problems by throwing.
#pragma once

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <reef/core/coroutine.hh>
#include <reef/net/connected_socket.hh>
#include <reef/reactor/sleep.hh>

namespace net_test {

/// The test certificates, in a temporary directory removed at exit:
///   ca.pem, ca.key            "CN=Reef Test CA", the trust anchor
///   server.pem/.key           CN=localhost, DNS:localhost and IP:127.0.0.1, by the CA
///   server-chain.pem          server.pem then ca.pem
///   other.pem/.key            CN=other.test, DNS:other.test, by the CA
///   client.pem/.key           CN=reef-client, clientAuth, by the CA
///   rogue.pem/.key            CN=localhost, self-signed (an unknown issuer)
///   expired.pem/.key          CN=localhost by the CA, valid in January 2020 only
///   ca.der, server.der, server-key.der   the same in DER
class test_pki {
public:
    explicit test_pki(std::string dir) : dir_(std::move(dir)) {}
    test_pki(const test_pki&) = delete;
    test_pki& operator=(const test_pki&) = delete;
    ~test_pki() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    std::string path(std::string_view name) const { return fmt::format("{}/{}", dir_, name); }
    /// The contents of a file of the directory.
    std::string read(std::string_view name) const {
        std::ifstream f(path(name), std::ios::binary);
        std::ostringstream s;
        s << f.rdbuf();
        return s.str();
    }

private:
    std::string dir_;
};

/// The openssl program: $REEF_OPENSSL, or "openssl" from PATH.
inline std::string openssl_program() {
    const char* p = std::getenv("REEF_OPENSSL");
    return p && *p ? p : "openssl";
}

namespace detail {

inline std::unique_ptr<test_pki> make_pki() {
    char tmpl[] = "/tmp/reef-tls-test-XXXXXX";
    if (!::mkdtemp(tmpl)) {
        throw std::runtime_error("mkdtemp failed");
    }
    auto pki = std::make_unique<test_pki>(tmpl);
    // EC P-256 keys: quick to make. `req -x509 -CA` (OpenSSL 3.0) signs a leaf in one
    // step; `ca` with explicit dates makes the expired one (req cannot go back in time).
    const std::string script = fmt::format(R"(set -e
cd '{dir}'
O='{openssl}'
KEY="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
LEAF="-days 30 -addext basicConstraints=critical,CA:FALSE -CA ca.pem -CAkey ca.key"
$O req -x509 $KEY -keyout ca.key -out ca.pem -days 30 -subj '/CN=Reef Test CA'
$O req -x509 $KEY -keyout server.key -out server.pem $LEAF -subj /CN=localhost \
   -addext subjectAltName=DNS:localhost,IP:127.0.0.1
cat server.pem ca.pem > server-chain.pem
$O req -x509 $KEY -keyout other.key -out other.pem $LEAF -subj /CN=other.test -addext subjectAltName=DNS:other.test
$O req -x509 $KEY -keyout client.key -out client.pem $LEAF -subj /CN=reef-client -addext extendedKeyUsage=clientAuth
$O req -x509 $KEY -keyout rogue.key -out rogue.pem -days 30 -subj /CN=localhost \
   -addext subjectAltName=DNS:localhost,IP:127.0.0.1
$O req -new $KEY -keyout expired.key -out expired.csr -subj /CN=localhost \
   -addext subjectAltName=DNS:localhost,IP:127.0.0.1
printf '[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n' > ca.cnf
printf 'default_md = sha256\npolicy = any\ncopy_extensions = copy\n[any]\ncommonName = supplied\n' >> ca.cnf
: > index.txt
echo 01 > serial
$O ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem -notext \
   -startdate 20200101000000Z -enddate 20200201000000Z
$O x509 -in ca.pem -outform der -out ca.der
$O x509 -in server.pem -outform der -out server.der
$O pkey -in server.key -outform der -out server-key.der
)",
                                           fmt::arg("dir", tmpl), fmt::arg("openssl", openssl_program()));
    std::ofstream(pki->path("make.sh")) << script;
    const auto cmd = fmt::format("sh '{}' > '{}' 2>&1", pki->path("make.sh"), pki->path("make.log"));
    if (std::system(cmd.c_str()) != 0) {
        throw std::runtime_error("making the test certificates failed:\n" + pki->read("make.log"));
    }
    return pki;
}

}  // namespace detail

/// This process's test certificates, made at the first call on a thread of their own
/// (the shard keeps running meanwhile). Shard 0 only.
inline reef::future<const test_pki*> get_pki() {
    static std::unique_ptr<test_pki> pki;
    static std::optional<std::future<std::unique_ptr<test_pki>>> making;
    if (!pki) {
        if (!making) {
            making = std::async(std::launch::async, detail::make_pki);
        }
        while (making->wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
            co_await reef::sleep(std::chrono::milliseconds(5));
        }
        auto f = std::move(*making);
        making.reset();
        pki = f.get();
    }
    co_return pki.get();
}

/// One direction of an in-memory connection: buffers in flight and the end of stream.
class memory_wire {
public:
    /// At most this many bytes per get() (0: buffers as they were put).
    explicit memory_wire(std::size_t fragment) noexcept : fragment_(fragment) {}

    void put(reef::temporary_buffer<char> b) {
        if (!b.empty() && !ended_) {
            q_.push_back(std::move(b));
            wake();
        }
    }
    /// The reader gets what is in flight, then end of stream.
    void end() {
        ended_ = true;
        wake();
    }
    reef::future<reef::temporary_buffer<char>> get() {
        while (q_.empty() && !ended_) {
            waiter_.emplace();
            co_await waiter_->get_future();
        }
        if (q_.empty()) {
            co_return reef::temporary_buffer<char>();
        }
        auto& front = q_.front();
        if (fragment_ && front.size() > fragment_) {
            auto part = front.share(0, fragment_);
            front.trim_front(fragment_);
            co_return part;
        }
        auto b = std::move(front);
        q_.pop_front();
        co_return b;
    }

private:
    void wake() {
        if (waiter_) {
            auto p = std::move(*waiter_);
            waiter_.reset();
            p.set_value();
        }
    }

    std::size_t fragment_;
    std::deque<reef::temporary_buffer<char>> q_;
    bool ended_ = false;
    std::optional<reef::promise<>> waiter_;
};

/// A connected_socket_impl over two wires. Options do nothing; addresses are unspecified.
class memory_socket final : public reef::net::connected_socket_impl {
public:
    memory_socket(std::shared_ptr<memory_wire> in, std::shared_ptr<memory_wire> out) noexcept
        : in_(std::move(in)),
          out_(std::move(out)) {}

    reef::data_source source(const reef::net::input_options&) override {
        return reef::data_source(std::make_unique<source_impl>(in_));
    }
    reef::data_sink sink(std::size_t) override { return reef::data_sink(std::make_unique<sink_impl>(out_)); }
    void shutdown_input() override { in_->end(); }
    void shutdown_output() override { out_->end(); }
    void set_nodelay(bool) override {}
    bool get_nodelay() const override { return false; }
    void set_keepalive(bool) override {}
    bool get_keepalive() const override { return false; }
    void set_keepalive_parameters(const reef::net::keepalive_params&) override {}
    reef::net::keepalive_params get_keepalive_parameters() const override { return {}; }
    void set_send_buffer_size(std::size_t) override {}
    std::size_t get_send_buffer_size() const override { return 0; }
    void set_receive_buffer_size(std::size_t) override {}
    std::size_t get_receive_buffer_size() const override { return 0; }
    reef::net::socket_address local_address() const override { return {}; }
    reef::net::socket_address remote_address() const override { return {}; }

private:
    class source_impl final : public reef::data_source_impl {
    public:
        explicit source_impl(std::shared_ptr<memory_wire> w) noexcept : w_(std::move(w)) {}
        reef::future<reef::temporary_buffer<char>> get() override { return w_->get(); }

    private:
        std::shared_ptr<memory_wire> w_;
    };
    class sink_impl final : public reef::data_sink_impl {
    public:
        explicit sink_impl(std::shared_ptr<memory_wire> w) noexcept : w_(std::move(w)) {}
        using reef::data_sink_impl::put;
        reef::future<> put(reef::temporary_buffer<char> b) override {
            w_->put(std::move(b));
            return reef::make_ready_future<>();
        }
        reef::future<> close() override {
            w_->end();
            return reef::make_ready_future<>();
        }

    private:
        std::shared_ptr<memory_wire> w_;
    };

    std::shared_ptr<memory_wire> in_;
    std::shared_ptr<memory_wire> out_;
};

/// Two connected ends in memory, and their wires for the test to act on.
struct memory_pair {
    reef::net::connected_socket a;
    reef::net::connected_socket b;
    std::shared_ptr<memory_wire> a_to_b;
    std::shared_ptr<memory_wire> b_to_a;
};

inline memory_pair make_memory_pair(std::size_t fragment = 0) {
    auto ab = std::make_shared<memory_wire>(fragment);
    auto ba = std::make_shared<memory_wire>(fragment);
    return memory_pair{reef::net::connected_socket(std::make_unique<memory_socket>(ba, ab)),
                       reef::net::connected_socket(std::make_unique<memory_socket>(ab, ba)), ab, ba};
}

}  // namespace net_test
