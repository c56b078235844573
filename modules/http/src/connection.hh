// One HTTP/1.1 connection of a server: the loop that parses requests from the socket,
// calls their handlers in order and writes their replies, batching the replies of
// pipelined requests into one send. Private to the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <list>
#include <string>

#include <reef/core/data_sink.hh>
#include <reef/core/data_source.hh>
#include <reef/core/future.hh>
#include <reef/http/parser.hh>
#include <reef/http/reply.hh>
#include <reef/http/request.hh>
#include <reef/net/connected_socket.hh>
#include <reef/reactor/clock.hh>

#include "output_batch.hh"

namespace reef::http {

class server;

namespace srv {

/// What a connection is waiting for; the server's sweep acts on the waiting phases
/// whose deadline passed.
enum class conn_phase : std::uint8_t {
    idle,      ///< waiting for the first byte of a request (keep-alive or new connection)
    head,      ///< reading the rest of a request head (header_timeout from its first byte)
    handling,  ///< a handler runs (no deadline)
    body,      ///< reading request body bytes (body_timeout per read)
    writing,   ///< waiting for the client to take reply bytes (write_timeout)
    closing,   ///< reading and dropping input after the reply, before closing
    done,      ///< cut or ending: nothing more to time
};

/// One connection. Owner shard only; lives until serve() resolves.
class connection final : public reef::detail::http_body_reader {
public:
    connection(server& srv, net::connected_socket sock);
    ~connection() override;

    /// Serves requests until the client closes, a reply closes the connection, an
    /// error, a timeout or the server's stop; then closes. Never fails.
    future<> serve() noexcept;

    /// The sweep found the deadline of a waiting phase passed: ends the wait.
    void expire() noexcept;
    /// The server stops: a connection waiting for a request closes now; one in a
    /// request closes after its reply.
    void stop_if_idle() noexcept;
    /// The server's stop timeout passed: cuts the connection.
    void cut() noexcept;

    conn_phase phase() const noexcept { return phase_; }
    lowres_clock::time_point deadline() const noexcept { return deadline_; }

    /// Where the server keeps this connection in its list.
    std::list<connection*>::iterator self;

    data_source make_body_source() override;
    /// The next piece of the current request's body, or an empty buffer at its end.
    /// Fails with body_error or request_timeout_error.
    future<temporary_buffer<char>> next_body_piece();
    /// Writes a streamed body's bytes (as the sink adapters need). Flushes the batch
    /// first, so that the order of bytes is kept.
    future<> put_direct(temporary_buffer<char> b);
    future<> put_direct(std::vector<temporary_buffer<char>> b);
    future<> flush_direct();

private:
    future<> run();
    // Counts the request, routes it and calls its handler (or makes the 400/404/405).
    future<reply> begin_request(request& req);
    // The reply of a failed handler (500, or the status of a body error).
    reply failure_reply(std::exception_ptr e, const request& req);
    // Whether the connection may go on after `rep`.
    bool keep_after(const reply& rep) noexcept;
    // Drops the buffered rest of the request's body: 1 done, 0 more to read, -1 close.
    int drop_buffered_body();
    void write_reply(reply& rep, const request& req, bool keep);
    future<bool> write_streamed(reply& rep, const request& req, bool keep);
    void write_error(std::uint16_t status, std::string_view detail);
    void write_head(const reply& rep, std::uint64_t length, int framing_kind, bool keep, http_version v);
    future<> flush_batch();
    // Resolves with `f`, in the writing phase while it is not ready.
    future<> wait_written(future<> f);
    future<> wait_slow_write(future<> f);
    future<bool> discard_body();
    future<> linger_and_close();
    void account_reply(status_type s) noexcept;
    bool decode_target(request& req);

    server& srv_;
    net::connected_socket sock_;
    data_source in_;
    data_sink out_;
    request_parser parser_;
    net::socket_address remote_;
    srv::output_batch batch_;
    std::string path_buf_;  // the decoded path when it had escapes (reused)

    conn_phase phase_ = conn_phase::idle;
    lowres_clock::time_point deadline_;
    lowres_clock::time_point head_started_;  // first byte of the request being read
    bool in_message_ = false;                // bytes of a request were fed since the last one ended
    bool timed_out_ = false;                 // the sweep ended a wait
    bool stop_requested_ = false;            // the server stops: close after this reply
    bool message_done_ = false;              // the current request's message_done was seen
    bool continue_sent_ = false;             // 100 Continue written for the current request
    bool head_written_ = false;              // the current reply's head is in the batch or sent
    bool body_failed_ = false;               // the body was malformed, too long, or timed out
    bool linger_ = false;                    // input may be unread at close: drain it briefly
    bool cut_ = false;                       // the server's stop ended the connection's wait
    bool close_after_ = false;               // the current reply closes the connection (an error)
    std::uint64_t body_read_ = 0;            // body bytes of the current request taken so far
    std::uint64_t requests_ = 0;             // requests served on this connection
};

}  // namespace srv
}  // namespace reef::http
