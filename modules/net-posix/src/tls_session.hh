// One TLS session over a connected_socket, driven without blocking: GnuTLS reads and
// writes through callbacks over memory (the bytes received so far, a queue of bytes to
// send), and the session moves bytes between that memory and the socket's streams.
// Private to net-posix.
#pragma once

#include <gnutls/gnutls.h>

#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <reef/core/data_sink.hh>
#include <reef/core/data_source.hh>
#include <reef/core/future.hh>
#include <reef/core/temporary_buffer.hh>
#include <reef/net/connected_socket.hh>
#include <reef/net/tls.hh>
#include <reef/reactor/timer.hh>

namespace reef::net::tls {

/// A TLS session over `transport`. The TLS connection's impl, source and sink share it
/// (a shared_ptr each); work in flight holds it too, so that queued records (a
/// close_notify) still go out after the users are gone. Owner shard only.
///
/// Invariants: GnuTLS is only called synchronously and never waits: its pull callback
/// takes from `in_buf_` or fails with EAGAIN, its push callback appends to the output
/// chunk and always succeeds. A call that returns GNUTLS_E_AGAIN is repeated, after
/// fill_input() appended more bytes when GnuTLS consumed none of those it had. One
/// fill_input() at a time: the handshake runs alone (reads and writes wait for it),
/// then only read() fills.
class session : public std::enable_shared_from_this<session> {
public:
    enum class role { client, server };

    /// Sets up GnuTLS for `r`. Throws tls_error (bad priority string, no server key).
    session(role r, std::shared_ptr<certificate_credentials::impl> creds, connected_socket transport,
            tls_options opts);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Starts the handshake in the background if it has not started.
    void start_handshake();
    /// Starts the handshake if it has not started; resolves when it is done. After a
    /// failure, fails with the same error every time.
    future<> handshake();
    /// The next plaintext bytes; an empty buffer at the peer's close_notify (or after
    /// shutdown_input()). Handshakes first.
    future<temporary_buffer<char>> read();
    /// Encrypts `buf` and queues the records; resolves when the queue has room.
    /// Handshakes first. One write() at a time.
    future<> write(temporary_buffer<char> buf);
    /// Resolves when every queued record was handed to the transport, then flushes it.
    future<> flush();
    /// Sends close_notify after the queued records, then closes the transport's output.
    /// Idempotent.
    future<> close_output();
    /// A pending or later read() returns end of stream; the transport's input is shut.
    void shutdown_input();
    /// Sends close_notify (if the handshake is done) and shuts the transport's output,
    /// in the background.
    void shutdown_output();

    /// What the handshake agreed on. Only after handshake() resolved.
    session_info info() const;
    /// Client: the data that resumes this session, once the server sent a ticket.
    std::optional<std::string> resumption_data() const;

    /// The connection underneath, for its addresses and socket options.
    connected_socket& transport() noexcept { return transport_; }

private:
    friend class session_user;
    void abandon() noexcept;

    enum class handshake_state { idle, running, done, failed };

    static ssize_t pull(gnutls_transport_ptr_t p, void* data, std::size_t len) noexcept;
    static ssize_t push(gnutls_transport_ptr_t p, const void* data, std::size_t len) noexcept;
    static int pull_timeout(gnutls_transport_ptr_t p, unsigned ms) noexcept;
    static int verify_if_sent(gnutls_session_t s) noexcept;
    static int on_ticket(gnutls_session_t s, unsigned type, unsigned when, unsigned incoming,
                         const gnutls_datum_t* msg) noexcept;

    future<> run_handshake();
    void finish_handshake(std::exception_ptr e) noexcept;
    void on_handshake_timeout() noexcept;
    bool needs_input(std::size_t before) const noexcept;
    future<> fill_input();

    void append_output(const char* p, std::size_t n);
    void seal_output();
    void kick_output() noexcept;
    future<> write_pending();
    future<> drain_output();
    future<> shut_output_after_drain();

    std::exception_ptr failure(int code, const char* doing) const;
    std::exception_ptr handshake_failure(int code) const;
    std::string peer_name() const;

    role role_;
    tls_options opts_;
    std::shared_ptr<certificate_credentials::impl> creds_;  // GnuTLS keeps a raw pointer to it
    connected_socket transport_;
    data_source in_;
    data_sink out_;
    socket_address remote_;
    std::string verify_name_;  // what the server's certificate must match (client); owned here
    gnutls_session_t s_ = nullptr;

    // The handshake.
    handshake_state hs_ = handshake_state::idle;
    std::exception_ptr hs_error_;
    std::vector<promise<>> hs_waiters_;
    timer<> hs_timer_;
    bool timed_out_ = false;
    bool abandoned_ = false;      // every user is gone
    unsigned users_ = 0;          // session_user handles
    unsigned verify_status_ = 0;  // why verify_if_sent() rejected a certificate
    bool ticket_received_ = false;  // client: the server sent a session ticket

    // Input: bytes received and not yet given to GnuTLS.
    temporary_buffer<char> in_buf_;
    bool in_eof_ = false;      // the transport reached its end
    bool in_closed_ = false;   // close_notify seen, or unclean close taken as the end
    bool input_shut_ = false;  // shutdown_input() was called
    std::exception_ptr in_error_;

    // Output: records GnuTLS produced. The chunk fills from `chunk_start_`; sealed parts
    // go to `out_pending_`, which the writer hands to the transport in order.
    temporary_buffer<char> chunk_;
    std::size_t chunk_start_ = 0;
    std::size_t chunk_used_ = 0;
    std::vector<temporary_buffer<char>> out_pending_;
    bool writing_ = false;      // write_pending() runs
    bool closing_ = false;      // close_output() or shutdown_output() started
    bool sink_closed_ = false;  // the transport's output is closed: nothing more is put
    bool bye_sent_ = false;
    std::exception_ptr out_error_;
    std::vector<promise<>> drain_waiters_;
};

/// A user of a session: the TLS connection's impl, its source or its sink. When the
/// last user is gone, a handshake still waiting for the peer is abandoned (the
/// transport's input is shut, so that the wait ends and the session with it); queued
/// records still go out. Owner shard only.
class session_user {
public:
    explicit session_user(std::shared_ptr<session> s) noexcept : s_(std::move(s)) { ++s_->users_; }
    session_user(const session_user&) = delete;
    session_user& operator=(const session_user&) = delete;
    ~session_user() {
        if (--s_->users_ == 0) {
            s_->abandon();
        }
    }
    session* operator->() const noexcept { return s_.get(); }
    const std::shared_ptr<session>& get() const noexcept { return s_; }

private:
    std::shared_ptr<session> s_;
};

}  // namespace reef::net::tls
