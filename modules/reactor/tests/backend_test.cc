// Edge cases every reactor backend must get right, run once per compiled backend
// (REEF_BACKEND): many fds at once, close with every kind of operation in flight,
// wake() and sleep() timing, resets, pipes and regular files.
#include "backend.hh"

#include <reef/testing/test_case.hh>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <reef/core/coroutine.hh>
#include <reef/core/when_all.hh>
#include <reef/reactor/pollable_fd.hh>
#include <reef/reactor/smp.hh>

using namespace reef;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

std::pair<pollable_fd, pollable_fd> make_socketpair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        throw std::system_error(errno, std::system_category(), "socketpair");
    }
    return {pollable_fd(sv[0]), pollable_fd(sv[1])};
}

// A listening TCP socket on 127.0.0.1 with a kernel-chosen port, as a raw fd.
int listen_raw(sockaddr_in& addr, int backlog) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, backlog) != 0) {
        int e = errno;
        ::close(fd);
        throw std::system_error(e, std::system_category(), "bind/listen");
    }
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    return fd;
}

int tcp_socket() {
    return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

// Lets both shards' loops run (and so submit and reap) a couple of times.
future<> settle() {
    for (int i = 0; i < 2; ++i) {
        co_await smp::submit_to(1, [] {});
    }
}

// Resolves with the errno a failed future carries (0 if it did not fail).
template <typename T>
int error_of(future<T>& f) {
    if (!f.failed()) {
        return 0;
    }
    try {
        f.get();
    } catch (const std::system_error& e) {
        return e.code().value();
    } catch (...) {
        return -1;
    }
    return -1;
}

future<> read_exactly(pollable_fd& fd, char* p, std::size_t n) {
    while (n) {
        auto r = co_await fd.read_some(p, n);
        if (r == 0) {
            throw std::runtime_error("unexpected end of file");
        }
        p += r;
        n -= r;
    }
}

future<> write_all(pollable_fd& fd, const char* p, std::size_t n) {
    while (n) {
        auto w = co_await fd.write_some(p, n);
        p += w;
        n -= w;
    }
}

// One side of a ping-pong: sends `rounds` 64-byte messages tagged with `id` and checks
// each echo.
future<> pinger(pollable_fd& fd, int id, int rounds) {
    char out[64], in[64];
    for (int r = 0; r < rounds; ++r) {
        std::memset(out, 0, sizeof(out));
        std::snprintf(out, sizeof(out), "pair %d round %d", id, r);
        co_await write_all(fd, out, sizeof(out));
        co_await read_exactly(fd, in, sizeof(in));
        if (std::memcmp(in, out, sizeof(in)) != 0) {
            throw std::runtime_error("echo mismatch on pair " + std::to_string(id));
        }
    }
}

future<> echoer(pollable_fd& fd, int rounds) {
    char buf[64];
    for (int r = 0; r < rounds; ++r) {
        co_await read_exactly(fd, buf, sizeof(buf));
        co_await write_all(fd, buf, sizeof(buf));
    }
}

// Writes to `fd` (whose peer does not read) until a write stays waiting even after the
// loop ran: the socket buffer is full. Leaves that waiting write in `waiting`.
future<> fill_until_write_waits(pollable_fd& fd, std::vector<char>& buf, future<std::size_t>& waiting) {
    for (int i = 0; i < 1000; ++i) {
        auto wr = fd.write_some(buf.data(), buf.size());
        if (!wr.available()) {
            co_await settle();
            if (!wr.available()) {
                waiting = std::move(wr);
                co_return;
            }
        }
        co_await std::move(wr);
    }
    throw std::runtime_error("the socket buffer never filled");
}

std::unique_ptr<detail::backend> make_test_backend() {
    std::string name = testing::test_backend();
    if (name.empty()) {
        name = detail::default_backend_name();
    }
    return detail::make_backend(name, detail::backend_config{});
}

}  // namespace

REEF_TEST_CASE("two hundred socketpairs ping-pong at once without losing or mixing bytes") {
    constexpr int pairs = 200;
    constexpr int rounds = 50;
    std::vector<pollable_fd> left, right;
    for (int i = 0; i < pairs; ++i) {
        auto [a, b] = make_socketpair();
        left.push_back(std::move(a));
        right.push_back(std::move(b));
    }
    std::vector<future<>> running;
    for (int i = 0; i < pairs; ++i) {
        running.push_back(echoer(right[i], rounds));
        running.push_back(pinger(left[i], i, rounds));
    }
    co_await when_all_succeed(running.begin(), running.end());
}

namespace {

// Starts a read, a write, an accept and a connect that cannot complete, optionally lets
// the loop submit them, closes their descriptors and checks each fails with ECANCELED.
future<> close_with_everything_in_flight(bool let_loop_run) {
    // A listener whose accept queue (backlog 0: one connection) is full drops further
    // SYNs, so a connect to it stays in progress for a second or more.
    sockaddr_in faddr;
    int full = listen_raw(faddr, 0);
    int fillers[2];
    for (int& f : fillers) {
        f = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ::connect(f, reinterpret_cast<sockaddr*>(&faddr), sizeof(faddr));
    }
    // Fill a's send buffer (nobody reads b) until a write has to wait.
    auto [a, b] = make_socketpair();
    std::vector<char> big(1 << 20, 'x');
    auto wr = make_ready_future<std::size_t>(0);
    co_await fill_until_write_waits(a, big, wr);

    char rbuf[16];
    auto rd = a.read_some(rbuf, sizeof(rbuf));
    sockaddr_in laddr;
    pollable_fd listener(listen_raw(laddr, 16));
    auto acc = listener.accept();
    pollable_fd client(tcp_socket());
    auto con = client.connect(reinterpret_cast<sockaddr*>(&faddr), sizeof(faddr));

    if (let_loop_run) {
        co_await settle();
    }
    REQUIRE_FALSE(rd.available());
    REQUIRE_FALSE(wr.available());
    REQUIRE_FALSE(acc.available());
    REQUIRE_FALSE(con.available());

    a.close();
    listener.close();
    client.close();

    auto rdf = co_await coroutine::as_future(std::move(rd));
    auto wrf = co_await coroutine::as_future(std::move(wr));
    auto accf = co_await coroutine::as_future(std::move(acc));
    auto conf = co_await coroutine::as_future(std::move(con));
    CHECK(error_of(rdf) == ECANCELED);
    CHECK(error_of(wrf) == ECANCELED);
    CHECK(error_of(accf) == ECANCELED);
    CHECK(error_of(conf) == ECANCELED);

    for (int f : fillers) {
        ::close(f);
    }
    ::close(full);
}

}  // namespace

REEF_TEST_CASE("closing fails a read, a write, an accept and a connect in flight with ECANCELED") {
    co_await close_with_everything_in_flight(true);
}

REEF_TEST_CASE("closing right after starting operations, before the loop ran, fails them with ECANCELED") {
    co_await close_with_everything_in_flight(false);
}

REEF_TEST_CASE("a descriptor closed with operations in flight is really closed: the peer sees end of file") {
    auto [a, b] = make_socketpair();
    char buf[8];
    auto rd = a.read_some(buf, sizeof(buf));
    co_await settle();
    a.close();
    // The peer's read must see EOF now, not when the cancelled read is reaped later.
    char c;
    REQUIRE(::recv(b.get(), &c, 1, MSG_DONTWAIT) == 0);
    auto f = co_await coroutine::as_future(std::move(rd));
    REQUIRE(error_of(f) == ECANCELED);
}

REEF_TEST_CASE("a read after the peer reset the connection fails with ECONNRESET") {
    sockaddr_in addr;
    pollable_fd listener(listen_raw(addr, 16));
    pollable_fd client(tcp_socket());
    auto acc = listener.accept();
    co_await client.connect(reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    auto server = co_await std::move(acc);
    co_await write_all(client, "data", 4);
    char buf[16];
    REQUIRE(co_await server.fd.read_some(buf, sizeof(buf)) == 4);

    // A read waiting when the reset arrives, then one started after it.
    auto pending = server.fd.read_some(buf, sizeof(buf));
    co_await settle();
    ::linger lg{1, 0};
    REQUIRE(::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
    client.close();  // closing with linger 0 sends RST
    auto f = co_await coroutine::as_future(std::move(pending));
    REQUIRE(error_of(f) == ECONNRESET);

    // The reset was reported; the connection is now dead: a read sees EOF or an error.
    auto g = co_await coroutine::as_future(server.fd.read_some(buf, sizeof(buf)));
    REQUIRE((g.failed() || g.get() == 0));
}

REEF_TEST_CASE("a read started after the peer reset fails with ECONNRESET") {
    sockaddr_in addr;
    pollable_fd listener(listen_raw(addr, 16));
    pollable_fd client(tcp_socket());
    auto acc = listener.accept();
    co_await client.connect(reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    auto server = co_await std::move(acc);
    ::linger lg{1, 0};
    REQUIRE(::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
    client.close();
    co_await settle();
    char buf[16];
    auto f = co_await coroutine::as_future(server.fd.read_some(buf, sizeof(buf)));
    REQUIRE(error_of(f) == ECONNRESET);
}

REEF_TEST_CASE("a second writer waiting on the same fd is refused with logic_error") {
    auto [a, b] = make_socketpair();
    std::vector<char> big(1 << 20, 'y');
    auto wr = make_ready_future<std::size_t>(0);
    co_await fill_until_write_waits(a, big, wr);
    auto second = co_await coroutine::as_future(a.write_some(big.data(), 1));
    REQUIRE(second.failed());
    REQUIRE_THROWS_AS(second.get(), std::logic_error);
    // The first write is still there: draining the peer lets it complete.
    std::vector<char> sink(1 << 16);
    while (!wr.available()) {
        co_await b.read_some(sink.data(), sink.size());
    }
    REQUIRE(co_await std::move(wr) > 0);
}

REEF_TEST_CASE("pipes: a read waits for the writer and sees end of file when it closes") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    pollable_fd r(p[0]), w(p[1]);
    char buf[8];
    auto rd = r.read_some(buf, sizeof(buf));
    co_await settle();
    REQUIRE_FALSE(rd.available());
    REQUIRE(co_await w.write_some("abc", 3) == 3);
    REQUIRE(co_await std::move(rd) == 3);
    REQUIRE(std::string(buf, 3) == "abc");
    w.close();
    REQUIRE(co_await r.read_some(buf, sizeof(buf)) == 0);
}

REEF_TEST_CASE("regular files: reads continue where the last one stopped") {
    char path[] = "/tmp/reef_backend_test_XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::unlink(path);
    REQUIRE(::write(fd, "0123456789", 10) == 10);
    REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
    pollable_fd f(fd);
    char buf[4];
    std::string got;
    for (;;) {
        auto n = co_await f.read_some(buf, sizeof(buf));
        if (n == 0) {
            break;
        }
        got.append(buf, n);
    }
    REQUIRE(got == "0123456789");
    REQUIRE(co_await f.write_some("ab", 2) == 2);
    REQUIRE(::lseek(f.get(), 0, SEEK_CUR) == 12);
}

// The following drive a backend directly, on the test's own thread.

TEST_CASE("sleep() with a 5 ms timeout returns after 4 to 50 ms") {
    auto b = make_test_backend();
    for (int i = 0; i < 3; ++i) {
        auto t0 = steady::now();
        b->sleep(5ms);
        auto took = steady::now() - t0;
        CHECK(took >= 4ms);
        CHECK(took <= 50ms);
    }
}

TEST_CASE("wake() from another thread ends sleep() promptly") {
    auto b = make_test_backend();
    b->sleep(0ns);  // the backend's first use is on this thread
    std::atomic<std::int64_t> woke_at{0};
    std::thread waker([&] {
        std::this_thread::sleep_for(30ms);
        woke_at.store(steady::now().time_since_epoch().count());
        b->wake();
    });
    auto t0 = steady::now();
    // Sleeping without a timeout could hang the test if wake() were lost: sleep in
    // bounded steps and check how long after the wake() the sleep ended.
    while (!woke_at.load() && steady::now() - t0 < 5s) {
        b->sleep(2s);
    }
    auto end = steady::now();
    waker.join();
    REQUIRE(woke_at.load() != 0);
    auto latency = end - steady::time_point(steady::duration(woke_at.load()));
    CHECK(latency < 100ms);
}

TEST_CASE("a wake() before sleep() is not lost, and several wakes leave no stale wake behind") {
    auto b = make_test_backend();
    b->wake();
    auto t0 = steady::now();
    b->sleep(2s);
    CHECK(steady::now() - t0 < 100ms);
    for (int i = 0; i < 3; ++i) {
        b->wake();
    }
    b->sleep(2s);
    // Every wake above was consumed: the next sleep runs its full timeout.
    t0 = steady::now();
    b->sleep(10ms);
    auto took = steady::now() - t0;
    CHECK(took >= 8ms);
    CHECK(took < 100ms);
}

// inotify wakes its pollers without an event mask, so the kernel cannot complete an aio
// poll iocb in the waker: it hands the completion to a kworker of the waker's CPU (as it
// does for any wake-up that meets io_submit holding the context's lock). A SCHED_FIFO
// thread spinning on that CPU keeps the kworker off it: the wait must resolve anyway.
TEST_CASE("a readable wait resolves while the kernel's report of it is held up on a busy CPU") {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    REQUIRE(::sched_getaffinity(0, sizeof(allowed), &allowed) == 0);
    int here = ::sched_getcpu();
    int other = -1;
    for (int c = 0; c < CPU_SETSIZE && other < 0; ++c) {
        if (c != here && CPU_ISSET(c, &allowed)) {
            other = c;
        }
    }
    if (here < 0 || other < 0) {
        WARN("fewer than two CPUs available: skipped");
        return;
    }
    char dir[] = "/tmp/reef_backend_test_XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    int in = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    REQUIRE(in >= 0);
    REQUIRE(::inotify_add_watch(in, dir, IN_CREATE) >= 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(here, &one);
    REQUIRE(::sched_setaffinity(0, sizeof(one), &one) == 0);  // the shard stays off the busy CPU

    auto b = make_test_backend();
    auto* st = b->attach(in);
    auto ready = b->readable(*st);
    b->poll_completions();  // submits what the wait armed
    std::atomic<int> phase{0};  // 1: the busy thread runs (or -1: it may not), 2: file made
    std::atomic<std::int64_t> made_at{0};
    std::string file = std::string(dir) + "/made";
    std::thread busy([&] {
        cpu_set_t there;
        CPU_ZERO(&there);
        CPU_SET(other, &there);
        sched_param prio{};
        prio.sched_priority = 1;
        if (::sched_setaffinity(0, sizeof(there), &there) != 0 ||
            ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &prio) != 0) {
            phase.store(-1);
            return;
        }
        phase.store(1);
        int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        made_at.store(steady::now().time_since_epoch().count());
        phase.store(2);
        auto until = steady::now() + 150ms;
        while (steady::now() < until) {
        }
        ::close(fd);
    });
    while (phase.load() == 0) {
        std::this_thread::yield();
    }
    auto t0 = steady::now();
    while (!ready.available() && steady::now() - t0 < 120ms) {
        b->poll_completions();
    }
    auto resolved_at = steady::now();
    busy.join();
    ::sched_setaffinity(0, sizeof(allowed), &allowed);
    bool ran = phase.load() == 2;
    while (!ready.available()) {  // the late report, once the busy thread is done
        b->sleep(10ms);
    }
    ready.ignore_ready_future();
    b->forget(st);
    ::unlink(file.c_str());
    ::rmdir(dir);
    if (!ran) {
        WARN("SCHED_FIFO not permitted here: skipped");
        return;
    }
    auto latency = resolved_at - steady::time_point(steady::duration(made_at.load()));
    CHECK(latency < 50ms);
}
