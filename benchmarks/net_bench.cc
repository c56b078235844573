// net_bench: TCP echo over loopback, Reef's echo server on every backend side by side with
// a plain C epoll echo server (the near-limit baseline), in one run.
//   build/benchmarks/net_bench                  (table; --json for JSON, --quick for CI)
// Each server is a child process pinned to one CPU (--server-cpu, default 0); this program
// is the load generator, one thread pinned to another CPU (--client-cpu, default 1), and
// drives every server with the same cases:
//   pingpong_1x64B     1 connection, one 64-byte message at a time: round trips/s, p50/p99
//   pingpong_100x64B   100 connections, one message in flight each: aggregate round trips/s
//   stream_16KiB       1 connection, 16 KiB messages sent back to back (up to a window in
//                      flight) and echoed back: MB/s echoed, p50/p99 per message
// With --seastar-server (benchmarks/net_bench_peers.py passes it), Seastar's echo server
// (benchmarks/peers/seastar_echo.cc) runs beside them on each of its backends, as seastar-<backend>.
// Every echoed byte is checked. In each round every case runs on every server in turn (a
// fresh server process each time, the order reversed every other turn); each figure is the
// median over the rounds, each ratio the median of the per-round ratios to the baseline.
// Exit status 1 when a case did not run or an echo was wrong (never because of a speed).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifndef REEF_NET_BENCH_BACKENDS
#define REEF_NET_BENCH_BACKENDS "io_uring,epoll,aio"
#endif

namespace {

// ---------------------------------------------------------------------------------------
// Configuration

struct config {
    bool json = false;
    bool quick = false;
    double duration_s = 1.0;
    double warmup_s = 0.2;
    int rounds = 5;
    int server_cpu = 0;
    int client_cpu = 1;
    bool client_spin = true;  // the client polls epoll without sleeping (its CPU is its own)
    unsigned message_size = 64;
    unsigned connections = 100;
    unsigned stream_message = 16 * 1024;
    unsigned stream_window = 16;  // stream messages in flight
    std::string servers;          // comma-separated names; empty: all
    std::string cases;            // comma-separated case names; empty: all
    std::string backends = REEF_NET_BENCH_BACKENDS;
    // Like Reef's shards, it never sleeps: the fair near-limit for a polling runtime.
    std::string baseline = "c-epoll-spin";
    std::string reef_server;      // path of net_bench_echo_server
    std::string baseline_server;  // path of net_baseline_epoll
    std::vector<std::string> reef_args;
    // The Seastar peer (benchmarks/peers/seastar_echo.cc, built by net_bench_peers.py):
    // empty leaves it out.
    std::string seastar_server;
    std::string seastar_backends = "epoll,io_uring,linux-aio";
    std::vector<std::string> seastar_args;
};

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    while (!s.empty()) {
        auto i = s.find(sep);
        auto part = s.substr(0, i);
        if (!part.empty()) {
            out.emplace_back(part);
        }
        if (i == std::string_view::npos) {
            break;
        }
        s.remove_prefix(i + 1);
    }
    return out;
}

std::string own_directory() {
    char buf[4096];
    auto n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        return ".";
    }
    std::string p(buf, std::size_t(n));
    auto slash = p.rfind('/');
    return slash == std::string::npos ? "." : p.substr(0, slash);
}

void usage(FILE* to) {
    std::fprintf(to,
                 "usage: net_bench [options]\n"
                 "  --json                  print one JSON object instead of the table\n"
                 "  --quick                 1 round, 0.2 s per case (CI: checks that every case runs)\n"
                 "  --duration-ms MS        measured time per case (default 1000)\n"
                 "  --warmup-ms MS          unmeasured time before it (default 200)\n"
                 "  --rounds N              rounds over all cases and servers (default 5)\n"
                 "  --servers LIST          subset of: reef-<backend>..., c-epoll, c-epoll-spin\n"
                 "  --cases LIST            subset of the cases (pingpong_1x64B, pingpong_100x64B, stream_16KiB)\n"
                 "  --backends LIST         Reef backends to run (default: the compiled ones, %s)\n"
                 "  --baseline NAME         server the ratios divide by (default c-epoll-spin)\n"
                 "  --server-cpu N          CPU of the server (default 0)\n"
                 "  --client-cpu N          CPU of this load generator (default 1)\n"
                 "  --client-wait spin|block   how the client waits for its sockets (default spin)\n"
                 "  --connections N         connections of the many-connection ping-pong (default 100)\n"
                 "  --message-size B        ping-pong message size (default 64)\n"
                 "  --stream-message B      streaming message size (default 16384)\n"
                 "  --stream-window N       streaming messages in flight (default 16)\n"
                 "  --reef-server PATH      net_bench_echo_server (default: next to this program)\n"
                 "  --baseline-server PATH  net_baseline_epoll (default: next to this program)\n"
                 "  --reef-arg ARG          extra argument for the Reef server (repeatable)\n"
                 "  --seastar-server PATH   Seastar's echo server (benchmarks/peers/seastar_echo.cc, built by\n"
                 "                          benchmarks/net_bench_peers.py --seastar-dir DIR); adds seastar-<backend>\n"
                 "  --seastar-backends LIST Seastar backends to run (default epoll,io_uring,linux-aio)\n"
                 "  --seastar-arg ARG       extra argument for the Seastar server (repeatable)\n",
                 REEF_NET_BENCH_BACKENDS);
}

bool parse_args(int argc, char** argv, config& cfg) {
    bool duration_given = false, warmup_given = false, rounds_given = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "net_bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--json") {
            cfg.json = true;
        } else if (a == "--quick") {
            cfg.quick = true;
        } else if (a == "--duration-ms") {
            cfg.duration_s = std::strtod(value(), nullptr) / 1e3;
            duration_given = true;
        } else if (a == "--warmup-ms") {
            cfg.warmup_s = std::strtod(value(), nullptr) / 1e3;
            warmup_given = true;
        } else if (a == "--rounds") {
            cfg.rounds = std::atoi(value());
            rounds_given = true;
        } else if (a == "--servers") {
            cfg.servers = value();
        } else if (a == "--cases") {
            cfg.cases = value();
        } else if (a == "--backends") {
            cfg.backends = value();
        } else if (a == "--baseline") {
            cfg.baseline = value();
        } else if (a == "--server-cpu") {
            cfg.server_cpu = std::atoi(value());
        } else if (a == "--client-cpu") {
            cfg.client_cpu = std::atoi(value());
        } else if (a == "--client-wait") {
            std::string w = value();
            if (w != "spin" && w != "block") {
                std::fprintf(stderr, "net_bench: --client-wait is spin or block\n");
                return false;
            }
            cfg.client_spin = w == "spin";
        } else if (a == "--connections") {
            cfg.connections = unsigned(std::atoi(value()));
        } else if (a == "--message-size") {
            cfg.message_size = unsigned(std::atoi(value()));
        } else if (a == "--stream-message") {
            cfg.stream_message = unsigned(std::atoi(value()));
        } else if (a == "--stream-window") {
            cfg.stream_window = unsigned(std::atoi(value()));
        } else if (a == "--reef-server") {
            cfg.reef_server = value();
        } else if (a == "--baseline-server") {
            cfg.baseline_server = value();
        } else if (a == "--seastar-server") {
            cfg.seastar_server = value();
        } else if (a == "--seastar-backends") {
            cfg.seastar_backends = value();
        } else if (a == "--seastar-arg") {
            cfg.seastar_args.emplace_back(value());
        } else if (a == "--reef-arg") {
            cfg.reef_args.emplace_back(value());
        } else if (a == "--help" || a == "-h") {
            usage(stdout);
            std::exit(0);
        } else {
            std::fprintf(stderr, "net_bench: unknown option %s\n", a.c_str());
            usage(stderr);
            return false;
        }
    }
    if (cfg.quick) {
        cfg.duration_s = duration_given ? cfg.duration_s : 0.2;
        cfg.warmup_s = warmup_given ? cfg.warmup_s : 0.05;
        cfg.rounds = rounds_given ? cfg.rounds : 1;
    }
    if (cfg.rounds < 1 || cfg.duration_s <= 0 || cfg.warmup_s < 0 || cfg.connections < 1 ||
        cfg.message_size < 1 || cfg.message_size > 65536 || cfg.stream_message < 1 ||
        cfg.stream_message > (1u << 20) || cfg.stream_window < 1) {
        std::fprintf(stderr, "net_bench: an option is out of range\n");
        return false;
    }
    auto dir = own_directory();
    if (cfg.reef_server.empty()) {
        cfg.reef_server = dir + "/net_bench_echo_server";
    }
    if (cfg.baseline_server.empty()) {
        cfg.baseline_server = dir + "/net_baseline_epoll";
    }
    return true;
}

// ---------------------------------------------------------------------------------------
// Time, CPU and pinning

std::int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CPU time used so far by every thread of process `pid`, in ns (from schedstat).
std::int64_t process_cpu_ns(pid_t pid) {
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d) {
        return -1;
    }
    std::int64_t total = 0;
    while (auto* e = readdir(d)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        std::string path = dir + "/" + e->d_name + "/schedstat";
        if (FILE* f = std::fopen(path.c_str(), "r")) {
            long long ns = 0;
            if (std::fscanf(f, "%lld", &ns) == 1) {
                total += ns;
            }
            std::fclose(f);
        }
    }
    closedir(d);
    return total;
}

// Whole-machine CPU time from /proc/stat, in seconds: busy (user, nice, system, irq,
// softirq) and stolen by the hypervisor.
struct machine_cpu {
    double busy = 0, steal = 0;
};

machine_cpu read_machine_cpu() {
    machine_cpu m;
    if (FILE* f = std::fopen("/proc/stat", "r")) {
        unsigned long long v[8] = {};
        if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                        &v[6], &v[7]) == 8) {
            double tick = double(sysconf(_SC_CLK_TCK));
            m.busy = double(v[0] + v[1] + v[2] + v[5] + v[6]) / tick;
            m.steal = double(v[7]) / tick;
        }
        std::fclose(f);
    }
    return m;
}

// CPU time of this process and of its waited-for children, in seconds.
double own_cpu_seconds() {
    double total = 0;
    for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        rusage ru{};
        getrusage(who, &ru);
        total += double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    return total;
}

bool cpu_usable(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof set, &set) != 0) {
        return false;
    }
    return CPU_ISSET(cpu, &set);
}

bool pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
}

// ---------------------------------------------------------------------------------------
// Servers under test: child processes that print "ready PORT" once they listen.

// Whose server it is: the ratio columns put each runtime (Reef, its Seastar peer) over the
// baseline, and Reef over Seastar on the same backend.
enum class server_side { reef, seastar, c_baseline };

struct server_spec {
    std::string name;
    std::vector<std::string> argv;
    server_side side = server_side::c_baseline;
    std::string backend;  // the runtime's backend ("" for the C servers)
};

// Seastar calls Reef's "aio" backend "linux-aio".
std::string seastar_backend_of(const std::string& reef_backend) {
    return reef_backend == "aio" ? "linux-aio" : reef_backend;
}

struct child {
    pid_t pid = -1;
    int out = -1;  // read end of its stdout
    unsigned short port = 0;
};

// Starts `argv` pinned to `cpu` (-1: not pinned) and waits for its "ready PORT" line.
bool start_server(const server_spec& s, int cpu, child& c, std::string& error) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        error = "pipe: " + std::string(std::strerror(errno));
        return false;
    }
    std::vector<char*> args;
    for (auto& a : s.argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
        error = "fork: " + std::string(std::strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        // The server dies with us, whatever happens to this program.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (cpu >= 0) {
            pin_to(cpu);
        }
        dup2(fds[1], STDOUT_FILENO);
        execv(args[0], args.data());
        std::fprintf(stderr, "net_bench: cannot run %s: %s\n", args[0], std::strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    c.pid = pid;
    c.out = fds[0];
    std::string line;
    auto deadline = now_ns() + 20'000'000'000;
    while (line.find('\n') == std::string::npos) {
        pollfd p{c.out, POLLIN, 0};
        int left_ms = int(std::max<std::int64_t>(0, (deadline - now_ns()) / 1'000'000));
        if (left_ms == 0 || poll(&p, 1, left_ms) <= 0) {
            error = "no \"ready\" line from the server within 20 s";
            return false;
        }
        char buf[256];
        auto n = read(c.out, buf, sizeof buf);
        if (n <= 0) {
            error = "the server exited before listening";
            return false;
        }
        line.append(buf, std::size_t(n));
    }
    unsigned port = 0;
    if (std::sscanf(line.c_str(), "ready %u", &port) != 1 || port == 0 || port > 65535) {
        error = "unexpected first line from the server: " + line.substr(0, line.find('\n'));
        return false;
    }
    c.port = (unsigned short)port;
    return true;
}

// Stops the server with SIGTERM (SIGKILL after 10 s). Returns true when it exited with 0.
bool stop_server(child& c, std::string& error) {
    if (c.pid <= 0) {
        return true;
    }
    kill(c.pid, SIGTERM);
    int status = 0;
    bool exited = false;
    auto deadline = now_ns() + 10'000'000'000;
    while (now_ns() < deadline) {
        pid_t r = waitpid(c.pid, &status, WNOHANG);
        if (r == c.pid) {
            exited = true;
            break;
        }
        usleep(2000);
    }
    if (!exited) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &status, 0);
        error = "the server did not stop within 10 s of SIGTERM";
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        error = WIFSIGNALED(status) ? "the server died of signal " + std::to_string(WTERMSIG(status))
                                    : "the server exited with status " + std::to_string(WEXITSTATUS(status));
        exited = false;
    }
    close(c.out);
    c = child{};
    return exited;
}

// ---------------------------------------------------------------------------------------
// The load generator

struct case_result {
    bool ok = false;
    std::string error;
    std::uint64_t ops = 0;     // round trips (ping-pong) or messages echoed (stream)
    std::uint64_t bytes = 0;   // bytes echoed in the measured window
    double seconds = 0;        // the measured window
    double p50_us = 0, p99_us = 0;
    double server_cpu = -1;    // fraction of one CPU the server used in the window
    double other_cpu = 0;      // CPUs busy with other processes in the window (noise)
    double client_cpu = 0;     // fraction of one CPU this load generator used
};

// Sorts out percentiles of latencies in ns.
double percentile_us(std::vector<std::uint32_t>& v, double q) {
    if (v.empty()) {
        return 0;
    }
    auto k = std::size_t(q * double(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
    return double(v[k]) / 1e3;
}

// Fills in the percentiles of a case that ran to its end; it succeeded if anything
// (a round trip, a message) completed in the measured window.
case_result& finish(case_result& r, std::vector<std::uint32_t>& lat, const char* what) {
    r.p50_us = percentile_us(lat, 0.50);
    r.p99_us = percentile_us(lat, 0.99);
    r.ok = r.ops > 0;
    if (!r.ok) {
        r.error = std::string("no ") + what + " completed in the measured window";
    }
    return r;
}

int connect_to(unsigned short port, std::string& error) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = "socket: " + std::string(std::strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        error = "connect: " + std::string(std::strerror(errno));
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

// Sends all of [p, p+n) on a non-blocking socket, waiting for room if it must.
bool send_fully(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        auto r = send(fd, p, n, MSG_NOSIGNAL);
        if (r > 0) {
            p += r;
            n -= std::size_t(r);
        } else if (r < 0 && errno == EAGAIN) {
            pollfd pf{fd, POLLOUT, 0};
            if (poll(&pf, 1, 5000) <= 0) {
                return false;
            }
        } else if (!(r < 0 && errno == EINTR)) {
            return false;
        }
    }
    return true;
}

// Half-closes every connection and checks that each server side then ends its stream
// with nothing more to say, then closes them.
bool close_cleanly(std::vector<int>& fds, std::string& error) {
    bool ok = true;
    for (int fd : fds) {
        shutdown(fd, SHUT_WR);
    }
    auto deadline = now_ns() + 5'000'000'000;
    for (int fd : fds) {
        for (;;) {
            char b[512];
            auto n = recv(fd, b, sizeof b, 0);
            if (n == 0) {
                break;
            }
            if (n > 0) {
                if (ok) {
                    error = "bytes after the last echo";
                }
                ok = false;
                break;
            }
            if (errno == EINTR) {
                continue;
            }
            int left_ms = int((deadline - now_ns()) / 1'000'000);
            pollfd pf{fd, POLLIN, 0};
            if (errno != EAGAIN || left_ms <= 0 || poll(&pf, 1, left_ms) <= 0) {
                if (ok) {
                    error = errno == EAGAIN ? "the server did not close its side" : "a reset at close";
                }
                ok = false;
                break;
            }
        }
    }
    for (int fd : fds) {
        close(fd);
    }
    fds.clear();
    return ok;
}

// The measured window of a case: when it starts and ends, and the CPU readings at both.
struct window {
    std::int64_t start, end;
    pid_t server;
    bool started = false, ended = false;
    std::int64_t server_cpu0 = 0, client_cpu0 = 0;
    double machine_busy0 = 0;
    case_result* r;

    window(const config& cfg, pid_t server_pid, case_result& res) : server(server_pid), r(&res) {
        start = now_ns() + std::int64_t(cfg.warmup_s * 1e9);
        end = start + std::int64_t(cfg.duration_s * 1e9);
    }
    // Called with the time of each completion; true while inside the window.
    bool inside(std::int64_t t) {
        if (!started && t >= start) {
            started = true;
            start = t;
            server_cpu0 = process_cpu_ns(server);
            client_cpu0 = thread_cpu_ns();
            machine_busy0 = read_machine_cpu().busy;
        }
        if (started && !ended && t >= end) {
            ended = true;
            end = t;
            r->seconds = double(end - start) / 1e9;
            if (server_cpu0 >= 0) {
                r->server_cpu = double(process_cpu_ns(server) - server_cpu0) / double(end - start);
            }
            r->client_cpu = double(thread_cpu_ns() - client_cpu0) / double(end - start);
            r->other_cpu = std::max(0.0, (read_machine_cpu().busy - machine_busy0) / r->seconds - r->client_cpu -
                                             std::max(0.0, r->server_cpu));
        }
        return started && !ended;
    }
};

// One message per connection in flight; each echo is checked and answered with the next.
case_result run_pingpong(const config& cfg, unsigned short port, pid_t server, unsigned nconn) {
    case_result r;
    struct conn {
        int fd = -1;
        std::uint64_t seq = 0;
        std::uint32_t got = 0;
        std::int64_t sent_at = 0;
        bool done = false;
        std::vector<char> tx, rx;
    };
    const unsigned size = cfg.message_size;
    std::vector<conn> conns(nconn);
    std::vector<int> fds;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    auto fail = [&](std::string e) {
        r.ok = false;
        r.error = std::move(e);
        for (int fd : fds) {
            close(fd);
        }
        close(ep);
        return r;
    };
    for (unsigned i = 0; i < nconn; ++i) {
        auto& c = conns[i];
        std::string err;
        c.fd = connect_to(port, err);
        if (c.fd < 0) {
            return fail(err);
        }
        fds.push_back(c.fd);
        c.tx.resize(size);
        c.rx.resize(size);
        for (unsigned k = 0; k < size; ++k) {
            c.tx[k] = char('A' + (i + k) % 57);
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }
    // Each message carries its connection and sequence number, so that a stale or
    // misrouted echo cannot pass for the expected one.
    auto stamp = [&](conn& c, unsigned id) {
        std::uint64_t words[2] = {c.seq, id};
        std::memcpy(c.tx.data(), words, std::min<std::size_t>(size, sizeof words));
    };
    std::vector<std::uint32_t> lat;
    lat.reserve(std::size_t(cfg.duration_s * 400'000) + 1024);
    window w(cfg, server, r);
    for (unsigned i = 0; i < nconn; ++i) {
        stamp(conns[i], i);
        conns[i].sent_at = now_ns();
        if (!send_fully(conns[i].fd, conns[i].tx.data(), size)) {
            return fail("send failed");
        }
    }
    unsigned active = nconn;
    epoll_event evs[256];
    const int timeout = cfg.client_spin ? 0 : 100;
    std::int64_t give_up = w.end + 5'000'000'000;
    while (active > 0) {
        int n = epoll_wait(ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR) {
            return fail("epoll_wait: " + std::string(std::strerror(errno)));
        }
        for (int e = 0; e < n; ++e) {
            unsigned id = evs[e].data.u32;
            auto& c = conns[id];
            auto got = recv(c.fd, c.rx.data() + c.got, size - c.got, 0);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
                    continue;
                }
                return fail(got == 0 ? "the server closed a connection" : "recv: " + std::string(std::strerror(errno)));
            }
            c.got += std::uint32_t(got);
            if (c.got < size) {
                continue;
            }
            auto t = now_ns();
            if (std::memcmp(c.rx.data(), c.tx.data(), size) != 0) {
                return fail("an echo differed from its message");
            }
            c.got = 0;
            if (w.inside(t)) {
                ++r.ops;
                lat.push_back(std::uint32_t(std::min<std::int64_t>(t - c.sent_at, 0xffffffff)));
            }
            if (c.done) {
                continue;
            }
            if (t >= w.end && w.ended) {
                c.done = true;
                --active;
                continue;
            }
            ++c.seq;
            stamp(c, id);
            c.sent_at = t;
            if (!send_fully(c.fd, c.tx.data(), size)) {
                return fail("send failed");
            }
        }
        if (n == 0 && now_ns() > give_up) {
            return fail("the server stopped answering");
        }
        if (n == 0 && !w.ended) {
            w.inside(now_ns());  // close the window even if nothing completes any more
        }
    }
    std::string err;
    if (!close_cleanly(fds, err)) {
        close(ep);
        r.error = err;
        return r;
    }
    close(ep);
    r.bytes = r.ops * size;
    return finish(r, lat, "round trip");
}

// One connection; messages of cfg.stream_message bytes sent back to back with at most
// cfg.stream_window of them unanswered. The stream's byte at offset o is pattern(o).
case_result run_stream(const config& cfg, unsigned short port, pid_t server) {
    case_result r;
    const std::size_t msg = cfg.stream_message;
    const std::size_t window_bytes = msg * cfg.stream_window;
    constexpr std::size_t period = 251;  // prime: every read lands at a different phase
    constexpr std::size_t read_size = 256 * 1024;
    std::vector<char> pattern(std::max(msg, read_size) + period);
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        pattern[i] = char(i % period);
    }
    std::vector<char> rx(read_size);
    std::vector<std::int64_t> started(cfg.stream_window + 1);  // send time of each message in flight
    std::vector<std::uint32_t> lat;
    lat.reserve(1 << 20);
    std::string err;
    int fd = connect_to(port, err);
    if (fd < 0) {
        r.error = err;
        return r;
    }
    std::vector<int> fds{fd};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    bool want_out = false;
    auto fail = [&](std::string e) {
        r.ok = false;
        r.error = std::move(e);
        close(fd);
        close(ep);
        return r;
    };
    std::uint64_t sent = 0, received = 0;
    bool sending = true;
    window w(cfg, server, r);
    std::int64_t give_up = w.end + 5'000'000'000;
    epoll_event evs[4];
    for (;;) {
        // Send while the window has room; a message is whole before the next begins.
        while (sending && !want_out && sent - received < window_bytes) {
            std::size_t off = sent % msg;
            if (off == 0) {
                started[(sent / msg) % started.size()] = now_ns();
            }
            auto n = send(fd, pattern.data() + sent % period, msg - off, MSG_NOSIGNAL);
            if (n > 0) {
                sent += std::uint64_t(n);
            } else if (n < 0 && errno == EAGAIN) {
                want_out = true;
                ev.events = EPOLLIN | EPOLLOUT;
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            } else if (!(n < 0 && errno == EINTR)) {
                return fail("send: " + std::string(std::strerror(errno)));
            }
        }
        if (!sending && received == sent) {
            break;
        }
        bool can_send = sending && !want_out && sent - received < window_bytes;
        int n = epoll_wait(ep, evs, 4, can_send || cfg.client_spin ? 0 : 100);
        if (n < 0 && errno != EINTR) {
            return fail("epoll_wait: " + std::string(std::strerror(errno)));
        }
        for (int e = 0; e < n; ++e) {
            if ((evs[e].events & EPOLLOUT) && want_out) {
                want_out = false;
                ev.events = EPOLLIN;
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            }
            if (!(evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                continue;
            }
            auto got = recv(fd, rx.data(), rx.size(), 0);
            if (got <= 0) {
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
                    continue;
                }
                return fail(got == 0 ? "the server closed the connection" : "recv: " + std::string(std::strerror(errno)));
            }
            if (std::uint64_t(got) > sent - received ||
                std::memcmp(rx.data(), pattern.data() + received % period, std::size_t(got)) != 0) {
                return fail("the echoed stream differs from what was sent");
            }
            auto t = now_ns();
            bool in = w.inside(t);
            // Every message whose last byte arrived now is complete.
            std::uint64_t before = received / msg, after = (received + std::uint64_t(got)) / msg;
            received += std::uint64_t(got);
            if (in) {
                r.bytes += std::uint64_t(got);
                for (std::uint64_t k = before; k < after; ++k) {
                    ++r.ops;
                    lat.push_back(std::uint32_t(std::min<std::int64_t>(t - started[k % started.size()], 0xffffffff)));
                }
            }
        }
        auto t = now_ns();
        if (sending && w.inside(t) == false && w.ended) {
            // Finish the message being sent, then drain.
            if (sent % msg == 0) {
                sending = false;
            }
        }
        if (t > give_up) {
            return fail("the server stopped answering");
        }
    }
    close(ep);
    if (!close_cleanly(fds, err)) {
        r.error = err;
        return r;
    }
    return finish(r, lat, "message");
}

// ---------------------------------------------------------------------------------------
// Cases, rounds and the report

struct case_spec {
    std::string name;
    std::string what;
    bool stream;
    unsigned connections;
};

struct metric {
    const char* name;   // JSON key
    const char* label;  // table label
    bool higher_is_better;
    double (*get)(const case_result&);
};

const metric pingpong_metrics[] = {
    {"round_trips_per_s", "round trips/s", true, [](const case_result& r) { return double(r.ops) / r.seconds; }},
    {"p50_us", "p50 latency us", false, [](const case_result& r) { return r.p50_us; }},
    {"p99_us", "p99 latency us", false, [](const case_result& r) { return r.p99_us; }},
    {"server_cpu_pct", "server CPU %", false, [](const case_result& r) { return r.server_cpu * 100; }},
    {"client_cpu_pct", "client CPU %", false, [](const case_result& r) { return r.client_cpu * 100; }},
    {"other_cpu_pct", "others' CPU %", false, [](const case_result& r) { return r.other_cpu * 100; }},
};
const metric stream_metrics[] = {
    {"mb_per_s", "MB/s echoed", true, [](const case_result& r) { return double(r.bytes) / r.seconds / 1e6; }},
    {"p50_us", "p50 message us", false, [](const case_result& r) { return r.p50_us; }},
    {"p99_us", "p99 message us", false, [](const case_result& r) { return r.p99_us; }},
    {"server_cpu_pct", "server CPU %", false, [](const case_result& r) { return r.server_cpu * 100; }},
    {"client_cpu_pct", "client CPU %", false, [](const case_result& r) { return r.client_cpu * 100; }},
    {"other_cpu_pct", "others' CPU %", false, [](const case_result& r) { return r.other_cpu * 100; }},
};

double median(std::vector<double> v) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    auto n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string json_string(std::string_view s) {
    std::string o = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            o += '\\';
            o += ch;
        } else if ((unsigned char)ch < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", ch);
            o += b;
        } else {
            o += ch;
        }
    }
    return o + "\"";
}

std::string json_number(double v) {
    if (!(v == v) || v == std::numeric_limits<double>::infinity() || v == -std::numeric_limits<double>::infinity()) {
        return "null";
    }
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

// A figure for the table: thousands separated for big numbers, 3 significant digits else.
std::string pretty(double v) {
    char b[48];
    if (v >= 10000) {
        auto n = std::uint64_t(v + 0.5);
        std::string digits = std::to_string(n), o;
        for (std::size_t i = 0; i < digits.size(); ++i) {
            if (i != 0 && (digits.size() - i) % 3 == 0) {
                o += ',';
            }
            o += digits[i];
        }
        return o;
    }
    if (v >= 100) {
        std::snprintf(b, sizeof b, "%.0f", v);
    } else if (v >= 10) {
        std::snprintf(b, sizeof b, "%.1f", v);
    } else {
        std::snprintf(b, sizeof b, "%.2f", v);
    }
    return b;
}

std::string cpu_model() {
    FILE* f = std::fopen("/proc/cpuinfo", "r");
    std::string model = "unknown";
    if (!f) {
        return model;
    }
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "model name", 10) == 0) {
            if (auto* colon = std::strchr(line, ':')) {
                model = colon + 2;
                while (!model.empty() && (model.back() == '\n' || model.back() == ' ')) {
                    model.pop_back();
                }
            }
            break;
        }
    }
    std::fclose(f);
    return model;
}

std::string load_average() {
    std::string s;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        double a = 0, b = 0, c = 0;
        if (std::fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
            s = buf;
        }
        std::fclose(f);
    }
    return s;
}

// Keeps the items named in the comma-separated `names` (all when it is empty); false,
// with a message, when a name matches no item.
template <typename Item>
bool keep_only(std::vector<Item>& items, const std::string& names, const char* what) {
    if (names.empty()) {
        return true;
    }
    auto wanted = split(names, ',');
    for (auto& w : wanted) {
        if (std::none_of(items.begin(), items.end(), [&](auto& it) { return it.name == w; })) {
            std::fprintf(stderr, "net_bench: unknown %s %s\n", what, w.c_str());
            return false;
        }
    }
    std::erase_if(items, [&](auto& it) { return std::find(wanted.begin(), wanted.end(), it.name) == wanted.end(); });
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    config cfg;
    if (!parse_args(argc, argv, cfg)) {
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);

    // The servers: Reef on each backend, the C baseline sleeping in epoll_wait, and the
    // same baseline spinning (a polling server never pays for a wake-up).
    bool pinned = cfg.server_cpu != cfg.client_cpu && cpu_usable(cfg.server_cpu) && cpu_usable(cfg.client_cpu);
    std::vector<server_spec> servers;
    // A runtime's server on each of its backends, one shard on the server CPU.
    auto add_runtime = [&](const std::string& prefix, server_side side, const std::string& program,
                           const std::string& backends, std::vector<std::string> fixed,
                           const std::vector<std::string>& extra) {
        for (auto& b : split(backends, ',')) {
            server_spec s{prefix + b, {program, "--smp", "1", "--reactor-backend", b, "--port", "0"}, side, b};
            s.argv.insert(s.argv.end(), fixed.begin(), fixed.end());
            if (pinned) {
                s.argv.insert(s.argv.end(), {"--cpuset", std::to_string(cfg.server_cpu)});
            } else {
                s.argv.push_back("--overprovisioned");
            }
            s.argv.insert(s.argv.end(), extra.begin(), extra.end());
            servers.push_back(std::move(s));
        }
    };
    add_runtime("reef-", server_side::reef, cfg.reef_server, cfg.backends, {}, cfg.reef_args);
    // The Seastar peer takes the same options (its --overprovisioned means the same too);
    // its memory is bounded so that it does not size itself for the whole machine.
    if (!cfg.seastar_server.empty()) {
        add_runtime("seastar-", server_side::seastar, cfg.seastar_server, cfg.seastar_backends, {"--memory", "1G"},
                    cfg.seastar_args);
    }
    servers.push_back({"c-epoll", {cfg.baseline_server, "0"}, server_side::c_baseline, ""});
    servers.push_back({"c-epoll-spin", {cfg.baseline_server, "0", "--spin"}, server_side::c_baseline, ""});
    if (!keep_only(servers, cfg.servers, "server")) {
        return 2;
    }
    int baseline = -1;
    for (std::size_t i = 0; i < servers.size(); ++i) {
        if (servers[i].name == cfg.baseline) {
            baseline = int(i);
        }
    }

    std::vector<case_spec> cases = {
        {"pingpong_1x" + std::to_string(cfg.message_size) + "B", "ping-pong, 1 connection", false, 1},
        {"pingpong_" + std::to_string(cfg.connections) + "x" + std::to_string(cfg.message_size) + "B",
         "ping-pong, " + std::to_string(cfg.connections) + " connections", false, cfg.connections},
        {"stream_" + (cfg.stream_message % 1024 == 0 ? std::to_string(cfg.stream_message / 1024) + "KiB"
                                                     : std::to_string(cfg.stream_message) + "B"),
         "streaming, 1 connection, " + std::to_string(cfg.stream_window) + " messages in flight", true, 1},
    };
    if (!keep_only(cases, cfg.cases, "case")) {
        return 2;
    }
    if (pinned) {
        pin_to(cfg.client_cpu);
    }
    std::string load_before = load_average();
    auto machine_before = read_machine_cpu();
    double own_before = own_cpu_seconds();
    auto wall_before = now_ns();
    std::time_t wall = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&wall, &tm);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    utsname un{};
    uname(&un);
    std::string placement =
        pinned ? "server pinned to cpu " + std::to_string(cfg.server_cpu) + ", load generator (one thread, epoll, " +
                     (cfg.client_spin ? "spinning" : "sleeping") + ") pinned to cpu " + std::to_string(cfg.client_cpu)
               : std::string("not pinned (the CPUs asked for are not both available)");
    if (!cfg.json) {
        std::printf("net_bench: TCP echo over loopback; %s\n", placement.c_str());
        std::printf("%s, %ld CPUs, kernel %s, %s, load average %s\n", cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN),
                    un.release, date, load_before.c_str());
        std::printf("%d round(s) x %.2f s per case (after %.2f s warm-up); medians over rounds\n\n", cfg.rounds,
                    cfg.duration_s, cfg.warmup_s);
        std::fflush(stdout);
    }

    // results[server][case][round]
    std::vector<std::vector<std::vector<case_result>>> results(
        servers.size(), std::vector<std::vector<case_result>>(cases.size()));
    std::vector<std::string> failures;
    // Each case runs on every server in turn (a fresh server process each time), so that
    // the figures a ratio compares are taken seconds apart; the order reverses every
    // other turn, so that neither side always goes first.
    for (int round = 0; round < cfg.rounds; ++round) {
        for (std::size_t ci = 0; ci < cases.size(); ++ci) {
            auto& k = cases[ci];
            std::vector<std::size_t> order(servers.size());
            for (std::size_t i = 0; i < order.size(); ++i) {
                order[i] = (std::size_t(round) + ci) % 2 ? order.size() - 1 - i : i;
            }
            for (auto si : order) {
                auto& s = servers[si];
                child c;
                std::string err;
                case_result r;
                if (!start_server(s, pinned ? cfg.server_cpu : -1, c, err)) {
                    std::string ignored;
                    stop_server(c, ignored);
                    r.error = err;
                } else {
                    r = k.stream ? run_stream(cfg, c.port, c.pid) : run_pingpong(cfg, c.port, c.pid, k.connections);
                    if (!stop_server(c, err)) {
                        failures.push_back(s.name + " " + k.name + " (round " + std::to_string(round + 1) + "): " + err);
                    }
                }
                if (!r.ok) {
                    failures.push_back(s.name + " " + k.name + " (round " + std::to_string(round + 1) + "): " + r.error);
                }
                if (!cfg.json) {
                    std::fprintf(stderr, "  round %d  %-14s %-18s %s\n", round + 1, s.name.c_str(), k.name.c_str(),
                                 r.ok ? (k.stream ? pretty(double(r.bytes) / r.seconds / 1e6) + " MB/s"
                                                  : pretty(double(r.ops) / r.seconds) + " round trips/s")
                                            .c_str()
                                      : ("FAILED: " + r.error).c_str());
                }
                results[si][ci].push_back(std::move(r));
            }
        }
    }
    std::string load_after = load_average();
    // What the rest of the machine did meanwhile: busy CPU time not ours (in CPUs, averaged
    // over the run; loopback softirq work may be counted here too) and time stolen by the host.
    auto machine_after = read_machine_cpu();
    double run_s = double(now_ns() - wall_before) / 1e9;
    double other_cpus =
        std::max(0.0, (machine_after.busy - machine_before.busy) - (own_cpu_seconds() - own_before)) / run_s;
    double steal_cpus = (machine_after.steal - machine_before.steal) / run_s;
    char noise[160];
    std::snprintf(noise, sizeof noise, "other processes used %.2f CPUs on average, the host stole %.2f CPUs",
                  other_cpus, steal_cpus);

    // Medians over rounds, and per-round ratios to the baseline.
    auto metrics_of = [&](const case_spec& k) -> std::pair<const metric*, std::size_t> {
        if (k.stream) {
            return {stream_metrics, std::size(stream_metrics)};
        }
        return {pingpong_metrics, std::size(pingpong_metrics)};
    };
    auto value_median = [&](std::size_t si, std::size_t ci, const metric& m) {
        std::vector<double> v;
        for (auto& r : results[si][ci]) {
            if (r.ok) {
                v.push_back(m.get(r));
            }
        }
        return v.empty() ? std::numeric_limits<double>::quiet_NaN() : median(v);
    };
    // Median over rounds of (server si / server ref) measured in the same round.
    auto ratio_median = [&](std::size_t si, std::size_t ci, const metric& m, int ref) {
        std::vector<double> v;
        if (ref < 0) {
            return std::numeric_limits<double>::quiet_NaN();
        }
        for (std::size_t round = 0; round < results[si][ci].size(); ++round) {
            auto& a = results[si][ci][round];
            auto& b = results[std::size_t(ref)][ci][round];
            if (a.ok && b.ok && m.get(b) > 0) {
                v.push_back(m.get(a) / m.get(b));
            }
        }
        return v.empty() ? std::numeric_limits<double>::quiet_NaN() : median(v);
    };
    // Reef's server on a backend against Seastar's on the same backend (-1: none).
    auto seastar_peer_of = [&](std::size_t si) {
        if (servers[si].side != server_side::reef) {
            return -1;
        }
        for (std::size_t i = 0; i < servers.size(); ++i) {
            if (servers[i].side == server_side::seastar && servers[i].backend == seastar_backend_of(servers[si].backend)) {
                return int(i);
            }
        }
        return -1;
    };

    if (cfg.json) {
        std::string o = "{\n";
        o += "  \"benchmark\": \"net_bench\",\n";
        o += "  \"date\": " + json_string(date) + ",\n";
        o += "  \"machine\": {\"cpu_model\": " + json_string(cpu_model()) +
             ", \"nproc\": " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
             ", \"kernel\": " + json_string(un.release) + "},\n";
        o += "  \"load_average\": {\"before\": " + json_string(load_before) + ", \"after\": " + json_string(load_after) +
             "},\n";
        o += "  \"other_cpus\": " + json_number(other_cpus) + ", \"steal_cpus\": " + json_number(steal_cpus) +
             ", \"noise\": " + json_string(noise) + ",\n";
        o += "  \"placement\": " + json_string(placement) + ",\n";
        o += "  \"pinned\": " + std::string(pinned ? "true" : "false") + ", \"server_cpu\": " +
             std::to_string(cfg.server_cpu) + ", \"client_cpu\": " + std::to_string(cfg.client_cpu) + ",\n";
        o += "  \"config\": {\"rounds\": " + std::to_string(cfg.rounds) + ", \"duration_s\": " +
             json_number(cfg.duration_s) + ", \"warmup_s\": " + json_number(cfg.warmup_s) +
             ", \"client_wait\": " + json_string(cfg.client_spin ? "spin" : "block") +
             ", \"message_size\": " + std::to_string(cfg.message_size) +
             ", \"connections\": " + std::to_string(cfg.connections) +
             ", \"stream_message\": " + std::to_string(cfg.stream_message) +
             ", \"stream_window\": " + std::to_string(cfg.stream_window) +
             ", \"baseline\": " + json_string(cfg.baseline) + "},\n";
        o += "  \"servers\": [";
        for (std::size_t si = 0; si < servers.size(); ++si) {
            std::string cmd;
            for (auto& a : servers[si].argv) {
                cmd += (cmd.empty() ? "" : " ") + a;
            }
            o += std::string(si ? ", " : "") + "{\"name\": " + json_string(servers[si].name) +
                 ", \"command\": " + json_string(cmd) + "}";
        }
        o += "],\n  \"results\": [\n";
        bool first = true;
        for (std::size_t ci = 0; ci < cases.size(); ++ci) {
            auto [ms, nm] = metrics_of(cases[ci]);
            for (std::size_t si = 0; si < servers.size(); ++si) {
                o += first ? "" : ",\n";
                first = false;
                o += "    {\"case\": " + json_string(cases[ci].name) + ", \"description\": " +
                     json_string(cases[ci].what) + ", \"server\": " + json_string(servers[si].name) + ",\n";
                o += "     \"median\": {";
                for (std::size_t mi = 0; mi < nm; ++mi) {
                    o += std::string(mi ? ", " : "") + json_string(ms[mi].name) + ": " +
                         json_number(value_median(si, ci, ms[mi]));
                }
                o += "},\n     \"ratio_to_baseline\": {";
                for (std::size_t mi = 0; mi < nm; ++mi) {
                    o += std::string(mi ? ", " : "") + json_string(ms[mi].name) + ": " +
                         json_number(ratio_median(si, ci, ms[mi], baseline));
                }
                if (int peer = seastar_peer_of(si); peer >= 0) {
                    o += "},\n     \"ratio_to_seastar\": {\"server\": " + json_string(servers[std::size_t(peer)].name);
                    for (std::size_t mi = 0; mi < nm; ++mi) {
                        o += ", " + json_string(ms[mi].name) + ": " + json_number(ratio_median(si, ci, ms[mi], peer));
                    }
                }
                o += "},\n     \"rounds\": [";
                for (std::size_t round = 0; round < results[si][ci].size(); ++round) {
                    auto& r = results[si][ci][round];
                    o += std::string(round ? ", " : "") + "{\"ok\": " + (r.ok ? "true" : "false");
                    if (!r.ok) {
                        o += ", \"error\": " + json_string(r.error);
                    } else {
                        o += ", \"ops\": " + std::to_string(r.ops) + ", \"seconds\": " + json_number(r.seconds);
                        for (std::size_t mi = 0; mi < nm; ++mi) {
                            o += ", " + json_string(ms[mi].name) + ": " + json_number(ms[mi].get(r));
                        }
                    }
                    o += "}";
                }
                o += "]}";
            }
        }
        o += "\n  ],\n  \"failures\": [";
        for (std::size_t i = 0; i < failures.size(); ++i) {
            o += std::string(i ? ", " : "") + json_string(failures[i]);
        }
        o += "]\n}\n";
        std::fputs(o.c_str(), stdout);
    } else {
        int width = 13;  // wide enough for the longest name (seastar-linux-aio)
        for (auto& s : servers) {
            width = std::max(width, int(s.name.size()));
        }
        std::printf("%-20s %-16s", "case", "metric");
        for (auto& s : servers) {
            std::printf(" %*s", width, s.name.c_str());
        }
        // (server, reference) pairs: each runtime over the baseline, then Reef over Seastar.
        struct ratio_col {
            std::size_t si;
            int ref;
            std::string title;
        };
        std::vector<ratio_col> ratio_cols;
        for (std::size_t si = 0; si < servers.size(); ++si) {
            if (servers[si].side == server_side::reef && baseline >= 0) {
                ratio_cols.push_back({si, baseline, servers[si].backend + " / base"});
            } else if (servers[si].side == server_side::seastar && baseline >= 0) {
                ratio_cols.push_back({si, baseline, "ss-" + servers[si].backend + " / base"});
            }
        }
        for (std::size_t si = 0; si < servers.size(); ++si) {
            if (int peer = seastar_peer_of(si); peer >= 0) {
                ratio_cols.push_back({si, peer, servers[si].backend + " / ss"});
            }
        }
        if (!ratio_cols.empty()) {
            std::printf("  |");
            for (auto& col : ratio_cols) {
                std::printf(" %*s", width, col.title.c_str());
            }
        }
        std::printf("\n");
        for (std::size_t ci = 0; ci < cases.size(); ++ci) {
            auto [ms, nm] = metrics_of(cases[ci]);
            for (std::size_t mi = 0; mi < nm; ++mi) {
                if ((std::strcmp(ms[mi].name, "client_cpu_pct") == 0 && cfg.client_spin) ||
                    std::strcmp(ms[mi].name, "other_cpu_pct") == 0) {
                    continue;  // a spinning client uses all of its CPU; noise: in the JSON only
                }
                std::printf("%-20s %-16s", mi == 0 ? cases[ci].name.c_str() : "", ms[mi].label);
                for (std::size_t si = 0; si < servers.size(); ++si) {
                    double v = value_median(si, ci, ms[mi]);
                    std::printf(" %*s", width, v == v ? pretty(v).c_str() : "-");
                }
                if (!ratio_cols.empty()) {
                    std::printf("  |");
                    for (auto& col : ratio_cols) {
                        double v = ratio_median(col.si, ci, ms[mi], col.ref);
                        char b[32];
                        std::snprintf(b, sizeof b, "%.2f", v);
                        std::printf(" %*s", width, v == v ? b : "-");
                    }
                }
                std::printf("\n");
            }
        }
        std::printf("\nbase = %s; ss = Seastar's server on the same backend; ratios: median over rounds of (server / "
                    "reference) measured in the same round; for round trips/s and MB/s above 1 means the first is faster, "
                    "for latency and CPU below 1 means the first is lower.\n"
                    "server CPU %%: CPU time of the server process in the window (a polling server uses its CPU "
                    "even while it waits).\nduring the run: %s; load average after: %s\n",
                    cfg.baseline.c_str(), noise, load_after.c_str());
        for (auto& f : failures) {
            std::printf("FAILED: %s\n", f.c_str());
        }
    }
    if (!failures.empty()) {
        return 1;
    }
    return 0;
}
