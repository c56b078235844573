#include <reef/net/tls.hh>

#include <gnutls/gnutls.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include <reef/core/coroutine.hh>
#include <reef/net.hh>
#include <reef/reactor/smp.hh>
#include <reef/testing/test_case.hh>

#include "child_process.hh"
#include "net_test_util.hh"
#include "tls_test_util.hh"

using namespace net_test;
namespace tls = reef::net::tls;
using namespace std::chrono_literals;

namespace {

tls::certificate_credentials trusting_ca(const test_pki& p) {
    tls::certificate_credentials c;
    REQUIRE(c.set_x509_trust_file(p.path("ca.pem")) == 1);
    return c;
}

tls::server_credentials server_creds(const test_pki& p, std::string_view cert = "server-chain.pem",
                                     std::string_view key = "server.key") {
    tls::server_credentials c;
    c.set_x509_key_file(p.path(cert), p.path(key));
    return c;
}

// Server credentials that ask clients for certificates issued by the test CA.
tls::server_credentials server_creds_asking(const test_pki& p, tls::client_auth mode) {
    auto c = server_creds(p);
    c.set_x509_trust_file(p.path("ca.pem"));
    c.set_client_auth(mode);
    return c;
}

// A TLS listening socket on 127.0.0.1 accepted by this shard only.
server_socket listen_tls(const tls::server_credentials& creds, tls::tls_options opts = {}) {
    return tls::listen(creds, loopback_v4(), listen_options{.balancing = load_balancing::this_shard},
                       std::move(opts));
}

struct tls_pair {
    connected_socket client;
    connected_socket server;
};

future<tls_pair> connect_tls(server_socket& ss, const tls::certificate_credentials& creds,
                             tls::tls_options opts) {
    auto accepted = ss.accept();
    auto client = co_await tls::connect(creds, ss.local_address(), std::move(opts));
    auto a = co_await std::move(accepted);
    co_return tls_pair{std::move(client), std::move(a.connection)};
}

tls::tls_options to_localhost() {
    return tls::tls_options{.server_name = "localhost"};
}

// Both ends of a connection to "localhost" and their streams.
struct tls_duplex {
    connected_socket client;
    connected_socket server;
    input_stream<char> cin;
    output_stream<char> cout;
    input_stream<char> sin;
    output_stream<char> sout;
};

future<tls_duplex> duplex_to_localhost(const test_pki& p, server_socket& ss) {
    auto c = co_await connect_tls(ss, trusting_ca(p), to_localhost());
    tls_duplex d{std::move(c.client), std::move(c.server), {}, {}, {}, {}};
    d.cin = d.client.input();
    d.cout = d.client.output();
    d.sin = d.server.input();
    d.sout = d.server.output();
    co_return d;
}

// The what() of the failure of `f` when it is an E; a description of anything else.
template <typename E, typename T>
future<std::string> failure_of(future<T> f) {
    auto r = co_await coroutine::as_future(std::move(f));
    if (!r.failed()) {
        r.ignore_ready_future();
        co_return std::string("(no failure)");
    }
    try {
        std::rethrow_exception(r.get_exception());
    } catch (const E& e) {
        co_return std::string(e.what());
    } catch (const std::exception& e) {
        co_return fmt::format("(unexpected {}: {})", typeid(e).name(), e.what());
    }
}

// `s` with its line breaks escaped: Catch2's TAP reporter prints INFO text as is, and
// a bare line break would end the TAP line.
std::string one_line(std::string s) {
    std::string out;
    for (char ch : s) {
        out += ch == '\n' ? std::string("\\n") : ch == '\r' ? std::string("\\r") : std::string(1, ch);
    }
    return out;
}

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

// Reads until `end` is part of what was read (or the stream ends).
future<std::string> read_through(input_stream<char>& in, std::string_view end) {
    std::string s;
    while (!contains(s, end)) {
        auto b = co_await in.read();
        if (b.empty()) {
            break;
        }
        s.append(b.get(), b.size());
    }
    co_return s;
}

// The port of openssl s_server's "ACCEPT 127.0.0.1:PORT" line.
future<std::uint16_t> s_server_port(child_process& server) {
    auto out = co_await server.read_until("ACCEPT ");
    out = co_await server.read_until("\n");
    auto line = out.substr(out.find("ACCEPT "));
    line = line.substr(0, line.find('\n'));
    co_return std::uint16_t(std::stoi(line.substr(line.rfind(':') + 1)));
}

// Why a client's handshake with a server holding `cert` and `key` failed; the server's
// handshake must fail too, on the client's alert.
struct rejection {
    std::string what;
    unsigned status = 0;
    bool tls_category = false;
};

future<rejection> rejected(const test_pki& p, std::string cert, std::string key, tls::tls_options opts) {
    auto ss = listen_tls(server_creds(p, cert, key));
    auto c = co_await connect_tls(ss, trusting_ca(p), std::move(opts));
    auto served = failure_of<tls::tls_error>(tls::check_handshake(c.server));
    auto r = co_await coroutine::as_future(tls::check_handshake(c.client));
    rejection out;
    if (!r.failed()) {
        r.ignore_ready_future();
        out.what = "(no failure)";
    } else {
        try {
            std::rethrow_exception(r.get_exception());
        } catch (const tls::verification_error& e) {
            out = rejection{e.what(), e.status(), e.code().category() == tls::error_category()};
        } catch (const std::exception& e) {
            out.what = fmt::format("(unexpected {}: {})", typeid(e).name(), e.what());
        }
    }
    auto server_err = co_await std::move(served);
    if (!contains(server_err, "fatal alert")) {
        out.what += " / the server's handshake: " + server_err;
    }
    co_return out;
}

}  // namespace

REEF_TEST_CASE(
    "a Reef client and server carry 8 MiB each way byte for byte, each side ending with close_notify") {
    constexpr std::uint64_t total = 8 << 20;
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p));
    auto [client, server, cin, cout, sin, sout] = co_await duplex_to_localhost(p, ss);
    // send_pattern closes its stream (close_notify); check_pattern reads to the end of
    // the stream, which only a close_notify gives without an error.
    auto [up, down] = co_await coroutine::all(
        [&] { return check_pattern(sin, 1); }, [&] { return check_pattern(cin, 2); },
        [&] { return send_pattern(cout, total, 1); }, [&] { return send_pattern(sout, total, 2); });
    REQUIRE(up == total);
    REQUIRE(down == total);
    REQUIRE(tls::is_tls(client));
    REQUIRE(client.remote_address() == ss.local_address());
}

REEF_TEST_CASE("the handshake agrees on TLS 1.3 and each side sees the other's certificate") {
    auto& p = *co_await get_pki();
    auto screds = server_creds_asking(p, tls::client_auth::require);
    auto ss = listen_tls(screds);
    auto ccreds = trusting_ca(p);
    ccreds.set_x509_key_file(p.path("client.pem"), p.path("client.key"));
    auto c = co_await connect_tls(ss, ccreds, to_localhost());
    auto [ci, si] = co_await coroutine::all([&] { return tls::get_session_info(c.client); },
                                            [&] { return tls::get_session_info(c.server); });
    REQUIRE(ci.protocol == "TLS1.3");
    REQUIRE(si.protocol == "TLS1.3");
    REQUIRE(contains(ci.description, "TLS1.3"));
    REQUIRE(ci.peer_subject == "CN=localhost");
    REQUIRE(ci.peer_issuer == "CN=Reef Test CA");
    REQUIRE(si.peer_subject == "CN=reef-client");
    REQUIRE(ci.server_name == "localhost");
    REQUIRE(si.server_name == "localhost");
    REQUIRE_FALSE(ci.alpn_protocol);
}

REEF_TEST_CASE(
    "SNI picks the server's certificate and ALPN follows the server's preference, seen on both sides") {
    auto& p = *co_await get_pki();
    auto screds = server_creds(p);
    screds.set_x509_key_file(p.path("other.pem"), p.path("other.key"));
    auto ss = listen_tls(screds, tls::tls_options{.alpn_protocols = {"h2", "http/1.1"}});
    auto ccreds = trusting_ca(p);

    auto c = co_await connect_tls(
        ss, ccreds, tls::tls_options{.server_name = "other.test", .alpn_protocols = {"http/1.1", "h2"}});
    auto [ci, si] = co_await coroutine::all([&] { return tls::get_session_info(c.client); },
                                            [&] { return tls::get_session_info(c.server); });
    REQUIRE(si.server_name == "other.test");
    REQUIRE(ci.peer_subject == "CN=other.test");
    REQUIRE(ci.alpn_protocol == "h2");
    REQUIRE(si.alpn_protocol == "h2");

    auto d = co_await connect_tls(
        ss, ccreds, tls::tls_options{.server_name = "localhost", .alpn_protocols = {"http/1.1"}});
    auto [di, dsi] = co_await coroutine::all([&] { return tls::get_session_info(d.client); },
                                             [&] { return tls::get_session_info(d.server); });
    REQUIRE(dsi.server_name == "localhost");
    REQUIRE(di.peer_subject == "CN=localhost");
    REQUIRE(di.alpn_protocol == "http/1.1");
    REQUIRE(dsi.alpn_protocol == "http/1.1");
}

REEF_TEST_CASE(
    "a certificate from an unknown issuer fails the handshake with a verification_error saying so") {
    auto& p = *co_await get_pki();
    auto r = co_await rejected(p, "rogue.pem", "rogue.key", to_localhost());
    INFO(one_line(r.what));
    REQUIRE(contains(r.what, "localhost"));
    REQUIRE(contains(r.what, "issuer is unknown"));
    REQUIRE((r.status & GNUTLS_CERT_SIGNER_NOT_FOUND) != 0);
    REQUIRE(r.tls_category);
}

REEF_TEST_CASE("a certificate for another name fails verification with a verification_error saying so") {
    auto& p = *co_await get_pki();
    auto r = co_await rejected(p, "server-chain.pem", "server.key",
                               tls::tls_options{.server_name = "wrong.example"});
    INFO(one_line(r.what));
    REQUIRE(contains(r.what, "does not match"));
    REQUIRE((r.status & GNUTLS_CERT_UNEXPECTED_OWNER) != 0);
}

REEF_TEST_CASE("an expired certificate fails verification with a verification_error saying so") {
    auto& p = *co_await get_pki();
    auto r = co_await rejected(p, "expired.pem", "expired.key", to_localhost());
    INFO(one_line(r.what));
    REQUIRE(contains(r.what, "expired"));
    REQUIRE((r.status & GNUTLS_CERT_EXPIRED) != 0);
}

REEF_TEST_CASE("after a failed handshake every I/O fails the same way") {
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p, "rogue.pem", "rogue.key"));
    auto c = co_await connect_tls(ss, trusting_ca(p), to_localhost());
    auto in = c.client.input();
    auto out = c.client.output();
    REQUIRE(contains(co_await failure_of<tls::verification_error>(in.read()), "issuer is unknown"));
    REQUIRE(contains(co_await failure_of<tls::verification_error>(tls::check_handshake(c.client)),
                     "issuer is unknown"));
    co_await out.write("never sent");
    REQUIRE(contains(co_await failure_of<tls::verification_error>(out.close()), "issuer is unknown"));
}

REEF_TEST_CASE("without a server name the certificate must match the IP address connected to") {
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p));
    auto c = co_await connect_tls(ss, trusting_ca(p), {});
    auto [ci, si] = co_await coroutine::all([&] { return tls::get_session_info(c.client); },
                                            [&] { return tls::get_session_info(c.server); });
    REQUIRE(ci.peer_subject == "CN=localhost");
    REQUIRE(si.server_name.empty());

    // other.test's certificate names no IP address.
    auto r = co_await rejected(p, "other.pem", "other.key", {});
    INFO(one_line(r.what));
    REQUIRE(contains(r.what, "does not match"));
}

REEF_TEST_CASE("with verification off a client accepts a certificate it cannot verify") {
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p, "rogue.pem", "rogue.key"));
    auto c =
        co_await connect_tls(ss, tls::certificate_credentials(),
                             tls::tls_options{.server_name = "localhost", .verify = tls::verification::off});
    auto reply = echo_round_trip(c.client, std::move(c.server), "unverified but private");
    REQUIRE(co_await std::move(reply) == "unverified but private");
}

REEF_TEST_CASE(
    "a server requiring a client certificate rejects a client without one, clearly on both sides") {
    auto& p = *co_await get_pki();
    auto screds = server_creds_asking(p, tls::client_auth::require);
    REQUIRE(screds.get_client_auth() == tls::client_auth::require);
    auto ss = listen_tls(screds);
    auto c = co_await connect_tls(ss, trusting_ca(p), to_localhost());
    auto served = failure_of<tls::tls_error>(tls::check_handshake(c.server));
    // With TLS 1.3 the client's handshake ends before the server has looked at its
    // certificate: the refusal arrives as an alert at the client's next read.
    auto hs = co_await coroutine::as_future(tls::check_handshake(c.client));
    hs.ignore_ready_future();
    auto in = c.client.input();
    auto client_err = co_await failure_of<tls::tls_error>(in.read());
    auto server_err = co_await std::move(served);
    INFO(one_line(server_err));
    REQUIRE(contains(server_err, "sent no certificate"));
    INFO(one_line(client_err));
    REQUIRE(contains(client_err, "fatal alert"));
}

REEF_TEST_CASE("a server requesting a client certificate accepts a client without one") {
    auto& p = *co_await get_pki();
    auto screds = server_creds_asking(p, tls::client_auth::request);
    auto ss = listen_tls(screds);
    auto c = co_await connect_tls(ss, trusting_ca(p), to_localhost());
    auto reply = echo_round_trip(c.client, std::move(c.server), "anonymous");
    REQUIRE(co_await std::move(reply) == "anonymous");
}

REEF_TEST_CASE("close_notify ends one direction while the other keeps going") {
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p));
    auto [client, server, cin, cout, sin, sout] = co_await duplex_to_localhost(p, ss);
    co_await cout.write("question");
    co_await cout.close();  // close_notify, then the transport's FIN
    REQUIRE(co_await read_to_end(sin) == "question");
    REQUIRE(sin.eof());
    co_await sout.write("answer after the client's close_notify");
    co_await sout.close();
    REQUIRE(co_await read_to_end(cin) == "answer after the client's close_notify");
}

REEF_TEST_CASE(
    "a peer vanishing without close_notify fails the read, or ends the stream when the options say so") {
    auto& p = *co_await get_pki();
    auto screds = server_creds(p);
    for (auto mode : {tls::unclean_close::error, tls::unclean_close::end_of_stream}) {
        auto m = make_memory_pair();
        auto server = tls::wrap_server(screds, std::move(m.b), tls::tls_options{.on_unclean_close = mode});
        auto client = tls::wrap_client(trusting_ca(p), std::move(m.a), to_localhost());
        auto cout = client.output();
        auto sin = server.input();
        co_await cout.write("last words");
        co_await cout.flush();
        REQUIRE(to_string_view(co_await sin.read_exactly(10)) == "last words");
        m.a_to_b->end();  // the transport ends; no close_notify was sent
        if (mode == tls::unclean_close::error) {
            auto err = co_await failure_of<tls::tls_error>(sin.read());
            INFO(one_line(err));
            REQUIRE(contains(err, "without a close_notify"));
        } else {
            REQUIRE((co_await sin.read()).empty());
        }
        co_await cout.close();
    }
}

REEF_TEST_CASE("a session fed one byte at a time completes its handshake and carries data") {
    auto& p = *co_await get_pki();
    auto m = make_memory_pair(1);
    auto server = tls::wrap_server(server_creds(p), std::move(m.b));
    auto client = tls::wrap_client(trusting_ca(p), std::move(m.a), to_localhost());
    auto reply = echo_round_trip(client, std::move(server), std::string(20000, 'x'));
    REQUIRE(co_await std::move(reply) == std::string(20000, 'x'));
}

REEF_TEST_CASE("a silent peer fails the handshake with handshake_timeout_error") {
    auto& p = *co_await get_pki();
    auto plain = listen(loopback_v4(), listen_options{.balancing = load_balancing::this_shard});
    auto accepted = plain.accept();
    auto client =
        co_await tls::connect(trusting_ca(p), plain.local_address(),
                              tls::tls_options{.server_name = "localhost", .handshake_timeout = 200ms});
    auto silent = co_await std::move(accepted);
    auto start = std::chrono::steady_clock::now();
    auto err = co_await failure_of<tls::handshake_timeout_error>(tls::check_handshake(client));
    INFO(one_line(err));
    REQUIRE(contains(err, "no answer within 200 ms"));
    REQUIRE(std::chrono::steady_clock::now() - start >= 150ms);
    // The connection was shut down: the silent peer reads its end.
    auto in = silent.connection.input();
    co_await read_to_end(in);
}

REEF_TEST_CASE("a peer closing during the handshake fails it with a clear error") {
    auto& p = *co_await get_pki();
    auto plain = listen(loopback_v4(), listen_options{.balancing = load_balancing::this_shard});
    auto accepted = plain.accept();
    auto client = co_await tls::connect(trusting_ca(p), plain.local_address(), to_localhost());
    {
        auto a = co_await std::move(accepted);
        auto out = a.connection.output();
        co_await out.close();
    }
    auto err = co_await failure_of<tls::tls_error>(tls::check_handshake(client));
    INFO(one_line(err));
    REQUIRE(contains(err, "closed the connection"));
}

REEF_TEST_CASE("credentials load from DER files and from PEM and DER in memory") {
    auto& p = *co_await get_pki();
    tls::server_credentials screds;
    screds.set_x509_key_file(p.path("server.der"), p.path("server-key.der"), tls::x509_format::der);
    auto ss = listen_tls(screds);
    tls::certificate_credentials from_der;
    REQUIRE(from_der.set_x509_trust(p.read("ca.der"), tls::x509_format::der) == 1);
    tls::certificate_credentials from_pem;
    REQUIRE(from_pem.set_x509_trust(p.read("ca.pem")) == 1);
    for (auto* creds : {&from_der, &from_pem}) {
        auto c = co_await connect_tls(ss, *creds, to_localhost());
        auto reply = echo_round_trip(c.client, std::move(c.server), "loaded");
        REQUIRE(co_await std::move(reply) == "loaded");
    }
    tls::certificate_credentials bad;
    REQUIRE_THROWS_AS(bad.set_x509_trust("not a certificate"), tls::tls_error);
    REQUIRE_THROWS_AS(bad.set_x509_key(p.read("server.pem"), "not a key"), tls::tls_error);
}

REEF_TEST_CASE("TLS 1.2 works when both sides are limited to it, and a version mismatch fails clearly") {
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p), tls::tls_options{.priority = "NORMAL:-VERS-TLS1.3"});
    auto c = co_await connect_tls(ss, trusting_ca(p), to_localhost());
    auto info = co_await tls::get_session_info(c.client);
    REQUIRE(info.protocol == "TLS1.2");
    REQUIRE(info.peer_subject == "CN=localhost");
    auto reply = echo_round_trip(c.client, std::move(c.server), std::string(100000, 'z'));
    REQUIRE(co_await std::move(reply) == std::string(100000, 'z'));

    auto only13 = to_localhost();
    only13.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
    auto d = co_await connect_tls(ss, trusting_ca(p), only13);
    auto served = failure_of<tls::tls_error>(tls::check_handshake(d.server));
    auto err = co_await failure_of<tls::tls_error>(tls::check_handshake(d.client));
    INFO(one_line(err));
    REQUIRE(contains(err, "TLS handshake with localhost"));
    auto server_err = co_await std::move(served);
    INFO(one_line(server_err));
    REQUIRE(contains(server_err, "TLS handshake with"));
}

// Connects to `ss` with `opts`, echoes "ping" through the server, and returns the
// client's resumption data once the reply was read (the TLS 1.3 ticket comes with it),
// and whether the session was resumed, as the client and the server saw it.
struct resumption_round {
    std::optional<std::string> data;
    bool client_resumed = false;
    bool server_resumed = false;
    std::optional<std::string> server_side_data;
};

future<resumption_round> resumption_round_trip(const test_pki& p, server_socket& ss, tls::tls_options opts) {
    auto c = co_await connect_tls(ss, trusting_ca(p), std::move(opts));
    auto ci = co_await tls::get_session_info(c.client);
    auto si = co_await tls::get_session_info(c.server);
    REQUIRE(ci.peer_subject == "CN=localhost");  // resumed or not, the peer is known
    auto reply = co_await echo_round_trip(c.client, std::move(c.server), "ping");
    REQUIRE(reply == "ping");
    co_return resumption_round{tls::resumption_data(c.client), ci.resumed, si.resumed, std::nullopt};
}

REEF_TEST_CASE("a client resumes a session with the data of an earlier connection, in TLS 1.3 and 1.2") {
    auto& p = *co_await get_pki();
    for (std::string priority : {"", "NORMAL:-VERS-TLS1.3"}) {
        INFO("priority '" << priority << "'");
        auto creds = server_creds(p);
        REQUIRE_FALSE(creds.session_resumption_enabled());
        creds.enable_session_resumption();
        creds.enable_session_resumption();  // idempotent
        REQUIRE(creds.session_resumption_enabled());
        auto ss = listen_tls(creds, tls::tls_options{.priority = priority});
        auto first = co_await resumption_round_trip(p, ss, to_localhost());
        REQUIRE_FALSE(first.client_resumed);
        REQUIRE_FALSE(first.server_resumed);
        REQUIRE(first.data.has_value());
        REQUIRE(first.data->size() > 16);

        auto again = to_localhost();
        again.resume_from = *first.data;
        auto second = co_await resumption_round_trip(p, ss, again);
        REQUIRE(second.client_resumed);
        REQUIRE(second.server_resumed);
        REQUIRE(second.data.has_value());  // a new ticket (1.3) or the one resumed with (1.2)

        // The same data again: tickets may be used more than once with GnuTLS.
        auto third_opts = to_localhost();
        third_opts.resume_from = *second.data;
        auto third = co_await resumption_round_trip(p, ss, third_opts);
        REQUIRE(third.client_resumed);
    }
}

REEF_TEST_CASE("without tickets there is no resumption data, and bad or foreign data means a full handshake") {
    auto& p = *co_await get_pki();
    // A server that does not issue tickets: the client never gets data to resume with.
    {
        auto ss = listen_tls(server_creds(p));
        auto c = co_await connect_tls(ss, trusting_ca(p), to_localhost());
        co_await tls::check_handshake(c.client);
        REQUIRE_FALSE(tls::resumption_data(c.server).has_value());  // never on a server
        auto reply = co_await echo_round_trip(c.client, std::move(c.server), "x");
        REQUIRE(reply == "x");
        REQUIRE_FALSE(tls::resumption_data(c.client).has_value());
    }
    auto creds = server_creds(p);
    creds.enable_session_resumption();
    auto ss = listen_tls(creds);
    // Before the first read a TLS 1.3 client has no ticket yet.
    {
        auto c = co_await connect_tls(ss, trusting_ca(p), to_localhost());
        co_await tls::check_handshake(c.client);
        REQUIRE_FALSE(tls::resumption_data(c.client).has_value());
        auto reply = co_await echo_round_trip(c.client, std::move(c.server), "y");
        REQUIRE(reply == "y");
    }
    // Garbage: a full handshake, verified, that works.
    auto junk = to_localhost();
    junk.resume_from = std::string(200, 'j');
    auto r = co_await resumption_round_trip(p, ss, junk);
    REQUIRE_FALSE(r.client_resumed);
    REQUIRE_FALSE(r.server_resumed);
    // Data from another server (another ticket key): a full handshake.
    auto other_creds = server_creds(p);
    other_creds.enable_session_resumption();
    auto other = listen_tls(other_creds);
    auto from_other = co_await resumption_round_trip(p, other, to_localhost());
    REQUIRE(from_other.data.has_value());
    auto foreign = to_localhost();
    foreign.resume_from = *from_other.data;
    r = co_await resumption_round_trip(p, ss, foreign);
    REQUIRE_FALSE(r.client_resumed);
    REQUIRE_FALSE(r.server_resumed);
    // And a server that no longer issues tickets refuses it the same way.
    auto plain = listen_tls(server_creds(p));
    r = co_await resumption_round_trip(p, plain, foreign);
    REQUIRE_FALSE(r.client_resumed);
}

REEF_TEST_CASE("a server connection dropped during its handshake closes at once") {
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p), tls::tls_options{.handshake_timeout = 0ms});
    auto accepted = ss.accept();
    auto silent = co_await connect(ss.local_address());  // plain TCP: never says hello
    {
        auto a = co_await std::move(accepted);  // its handshake waits for the client...
    }                                           // ...and is dropped here
    auto in = silent.input();
    REQUIRE(co_await read_to_end(in) == "");
}

REEF_TEST_CASE("TLS queries refuse a connection that is not TLS, and servers need a certificate") {
    auto plain = listen(loopback_v4(), listen_options{.balancing = load_balancing::this_shard});
    auto accepted = plain.accept();
    auto client = co_await connect(plain.local_address());
    auto a = co_await std::move(accepted);
    REQUIRE_FALSE(tls::is_tls(client));
    REQUIRE_THROWS_AS(tls::check_handshake(client), std::invalid_argument);
    REQUIRE_THROWS_AS(tls::get_session_info(client), std::invalid_argument);
    REQUIRE_THROWS_AS(tls::listen(tls::server_credentials(), loopback_v4()), tls::tls_error);
    REQUIRE_THROWS_AS(tls::wrap_client(tls::certificate_credentials(), std::move(client),
                                       tls::tls_options{.priority = "NOT-A-PRIORITY"}),
                      tls::tls_error);
    tls::certificate_credentials c;
    REQUIRE_THROWS_AS(c.set_x509_trust_file("/nonexistent/ca.pem"), tls::tls_error);
    REQUIRE(c.set_system_trust() > 0);
}

REEF_TEST_CASE("credentials made on one shard serve sessions on another") {
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p));
    auto accepted = ss.accept();
    auto ccreds = trusting_ca(p);
    auto addr = ss.local_address();
    auto from_shard1 = smp::submit_to(1, [ccreds, addr]() -> future<std::string> {
        auto s = co_await tls::connect(ccreds, addr, to_localhost());
        auto in = s.input();
        auto out = s.output();
        co_await out.write("from shard 1");
        co_await out.close();
        co_return co_await read_to_end(in);
    });
    auto a = co_await std::move(accepted);
    co_await echo(std::move(a.connection));
    REQUIRE(co_await std::move(from_shard1) == "from shard 1");
}

REEF_TEST_CASE(
    "openssl s_client verifies the Reef server and ends with close_notify, which the server reads as the "
    "end") {
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p), tls::tls_options{.alpn_protocols = {"h2"}});
    auto accepted = ss.accept();
    child_process client(
        {openssl_program(), "s_client", "-connect", fmt::format("127.0.0.1:{}", ss.local_address().port()),
         "-servername", "localhost", "-verify_hostname", "localhost", "-verify_return_error", "-CAfile",
         p.path("ca.pem"), "-alpn", "h2", "-quiet", "-no_ign_eof"},
        20s);
    auto a = co_await std::move(accepted);
    auto info = co_await tls::get_session_info(a.connection);
    REQUIRE(info.server_name == "localhost");
    REQUIRE(info.alpn_protocol == "h2");
    co_await client.write("hello from openssl\n");
    client.close_stdin();  // s_client sends close_notify and exits
    auto in = a.connection.input();
    auto got = co_await coroutine::as_future(read_to_end(in));
    REQUIRE_FALSE(got.failed());
    REQUIRE(got.get() == "hello from openssl\n");
    auto out = co_await client.read_to_end();
    INFO(one_line(out));
    REQUIRE(co_await client.wait() == 0);
}

REEF_TEST_CASE(
    "openssl s_client with a client certificate reads the Reef server's reply up to its close_notify") {
    auto& p = *co_await get_pki();
    auto screds = server_creds_asking(p, tls::client_auth::require);
    auto ss = listen_tls(screds);
    auto accepted = ss.accept();
    child_process client(
        {openssl_program(), "s_client", "-connect", fmt::format("127.0.0.1:{}", ss.local_address().port()),
         "-servername", "localhost", "-verify_return_error", "-CAfile", p.path("ca.pem"), "-cert",
         p.path("client.pem"), "-key", p.path("client.key"), "-quiet"},
        20s);
    auto a = co_await std::move(accepted);
    auto in = a.connection.input();
    auto out = a.connection.output();
    co_await client.write("ping\n");
    auto line = co_await read_through(in, "\n");
    REQUIRE(line == "ping\n");
    auto info = co_await tls::get_session_info(a.connection);
    REQUIRE(info.peer_subject == "CN=reef-client");
    co_await out.write("pong from reef\n");
    co_await out.close();
    auto printed = co_await client.read_until("pong from reef\n");
    client.close_stdin();
    INFO(one_line(printed));
    REQUIRE(co_await client.wait() == 0);
}

REEF_TEST_CASE("curl fetches a page from the Reef server over HTTPS, verifying it") {
    const char* curl = std::getenv("REEF_CURL");
    if (!curl || !*curl) {
        WARN("curl not found: skipped");
        co_return;
    }
    auto& p = *co_await get_pki();
    auto ss = listen_tls(server_creds(p), tls::tls_options{.alpn_protocols = {"http/1.1"}});
    auto accepted = ss.accept();
    const auto port = ss.local_address().port();
    child_process client(
        {curl, "-sS", "--max-time", "20", "--cacert", p.path("ca.pem"), "--resolve",
         fmt::format("localhost:{}:127.0.0.1", port), fmt::format("https://localhost:{}/hello", port)},
        30s);
    auto a = co_await std::move(accepted);
    auto in = a.connection.input();
    auto out = a.connection.output();
    auto request = co_await read_through(in, "\r\n\r\n");
    INFO(one_line(request));
    REQUIRE(request.starts_with("GET /hello HTTP/1.1\r\n"));
    auto info = co_await tls::get_session_info(a.connection);
    REQUIRE(info.alpn_protocol == "http/1.1");
    REQUIRE(info.server_name == "localhost");
    const std::string body = "hello over TLS from Reef\n";
    co_await out.write(
        fmt::format("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
                    "Connection: close\r\n\r\n{}",
                    body.size(), body));
    co_await out.close();
    auto printed = co_await client.read_to_end();
    INFO(one_line(printed));
    REQUIRE(co_await client.wait() == 0);
    REQUIRE(printed == body);
}

REEF_TEST_CASE("the Reef client talks to openssl s_server -rev and sees its ALPN choice") {
    auto& p = *co_await get_pki();
    child_process server(
        {openssl_program(), "s_server", "-accept", "127.0.0.1:0", "-cert", p.path("server.pem"), "-key",
         p.path("server.key"), "-naccept", "1", "-rev", "-alpn", "http/1.1"},
        20s);
    auto port = co_await s_server_port(server);
    auto s = co_await tls::connect(
        trusting_ca(p), loopback_v4(port),
        tls::tls_options{.server_name = "localhost", .alpn_protocols = {"h2", "http/1.1"}});
    auto info = co_await tls::get_session_info(s);
    REQUIRE(info.alpn_protocol == "http/1.1");
    REQUIRE(info.peer_subject == "CN=localhost");
    auto in = s.input();
    auto out = s.output();
    co_await out.write("hello reef\n");
    co_await out.flush();
    auto line = co_await read_through(in, "\n");
    REQUIRE(contains(line, "feer olleh"));
    co_await out.close();
    server.kill(SIGTERM);
    co_await server.wait();
}

REEF_TEST_CASE("the Reef client with a client certificate gets openssl s_server -www's page") {
    auto& p = *co_await get_pki();
    child_process server(
        {openssl_program(), "s_server", "-accept", "127.0.0.1:0", "-cert", p.path("server.pem"), "-key",
         p.path("server.key"), "-naccept", "1", "-www", "-Verify", "1", "-CAfile", p.path("ca.pem")},
        20s);
    auto port = co_await s_server_port(server);
    auto ccreds = trusting_ca(p);
    ccreds.set_x509_key(p.read("client.pem"), p.read("client.key"));
    auto s = co_await tls::connect(ccreds, loopback_v4(port), to_localhost());
    auto in = s.input();
    auto out = s.output();
    co_await out.write("GET / HTTP/1.0\r\n\r\n");
    co_await out.flush();
    auto page = co_await read_to_end(in);
    INFO(one_line(page));
    REQUIRE(page.starts_with("HTTP/1.0 200 ok"));
    REQUIRE(contains(page, "TLSv1.3"));
    REQUIRE(contains(page, "reef-client"));
    co_await out.close();
    co_await server.wait();
}
