/* The near-limit baseline of http_bench.py: a minimal HTTP server in plain C that answers
 * every request with one fixed response. No parsing and no routing: it only counts the
 * ends of request heads ("\r\n\r\n") in what arrives, so that each of N pipelined requests
 * gets its own response, and sends the N responses with one send() per read. One thread,
 * level-triggered epoll, non-blocking sockets, TCP_NODELAY; nothing is allocated per
 * request (each connection owns a small struct; reads go to one shared buffer).
 *   http_baseline_server PORT [--cpu C]
 * Port 0 picks a free port. Pinned to cpu 0 unless --cpu says otherwise (--cpu -1: not
 * pinned). Prints "ready PORT" once listening. SIGTERM or SIGINT stops it (status 0).
 * A request body is not understood (its bytes are scanned like a head): the benchmark
 * sends only GET requests. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* The same body and content type as examples/httpd's "/" and nginx's configuration in
 * benchmarks/http/nginx.conf; header lines of the same kinds (Server, Date). */
static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Server: baseline\r\n"
                               "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 13\r\n"
                               "\r\n"
                               "Hello, World!";
enum {
    response_size = sizeof response - 1,
    responses_per_block = 1024,
    read_buffer_size = 64 * 1024,
    max_events = 256,
};

/* responses_per_block copies of the response back to back: every send is a slice of it. */
static char response_block[response_size * responses_per_block];
static char read_buffer[read_buffer_size];

struct connection {
    int fd;
    unsigned matched;   /* bytes of "\r\n\r\n" matched at the end of what was read so far */
    uint64_t owed;      /* response bytes still to send */
    size_t phase;       /* offset inside the response of the next byte to send */
    int waiting_output; /* registered for EPOLLOUT instead of EPOLLIN */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static void die(const char* what) {
    perror(what);
    exit(1);
}

/* Counts the request ends in [p, p + n), carrying a partial match across reads. */
static uint64_t count_request_ends(struct connection* c, const char* p, size_t n) {
    static const char end[4] = {'\r', '\n', '\r', '\n'};
    uint64_t count = 0;
    unsigned m = c->matched;
    for (size_t i = 0; i < n; ++i) {
        char ch = p[i];
        if (ch == end[m]) {
            if (++m == 4) {
                ++count;
                m = 0;
            }
        } else {
            /* The only proper prefix of the pattern that can restart a match is "\r". */
            m = ch == '\r';
        }
    }
    c->matched = m;
    return count;
}

/* Sends what is owed until it is all sent (1) or the socket is full (0); -1 on error. */
static int send_owed(struct connection* c) {
    while (c->owed > 0) {
        size_t room = sizeof response_block - c->phase;
        size_t len = c->owed < room ? (size_t)c->owed : room;
        ssize_t r = send(c->fd, response_block + c->phase, len, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->owed -= (uint64_t)r;
        c->phase = (c->phase + (size_t)r) % response_size;
    }
    return 1;
}

static void close_connection(int ep, struct connection* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static int set_interest(int ep, struct connection* c, int output) {
    struct epoll_event ev = {.events = output ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    c->waiting_output = output;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void on_readable(int ep, struct connection* c) {
    ssize_t n = recv(c->fd, read_buffer, sizeof read_buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        close_connection(ep, c);
        return;
    }
    c->owed += count_request_ends(c, read_buffer, (size_t)n) * response_size;
    int sent = send_owed(c);
    if (sent < 0) {
        close_connection(ep, c);
    } else if (sent == 0 && set_interest(ep, c, 1) < 0) {
        /* Stop reading until the client takes what it was sent: memory stays bounded. */
        close_connection(ep, c);
    }
}

static void on_writable(int ep, struct connection* c) {
    int sent = send_owed(c);
    if (sent < 0 || (sent == 1 && set_interest(ep, c, 0) < 0)) {
        close_connection(ep, c);
    }
}

static void accept_all(int ep, int listen_fd) {
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return; /* EAGAIN, or out of descriptors: try again on the next event */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct connection* c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

int main(int argc, char** argv) {
    if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--cpu") == 0)) {
        fprintf(stderr, "usage: %s PORT [--cpu C]\n", argv[0]);
        return 2;
    }
    char* end;
    long port = strtol(argv[1], &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) {
        fprintf(stderr, "bad port: %s\n", argv[1]);
        return 2;
    }
    long cpu = 0;
    if (argc == 4) {
        cpu = strtol(argv[3], &end, 10);
        if (*end != '\0' || cpu < -1 || cpu >= CPU_SETSIZE) {
            fprintf(stderr, "bad cpu: %s\n", argv[3]);
            return 2;
        }
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0) {
            die("sched_setaffinity");
        }
    }
    for (int i = 0; i < responses_per_block; ++i) {
        memcpy(response_block + (size_t)i * response_size, response, response_size);
    }

    /* No SA_RESTART: a signal interrupts epoll_wait, and the loop sees `stopping`. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) {
        die("socket");
    }
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
        die("bind");
    }
    if (listen(listen_fd, 1024) < 0) {
        die("listen");
    }
    socklen_t len = sizeof addr;
    if (getsockname(listen_fd, (struct sockaddr*)&addr, &len) < 0) {
        die("getsockname");
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        die("epoll_create1");
    }
    /* The listener's data.ptr is NULL; every other registration points at its connection. */
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev) < 0) {
        die("epoll_ctl");
    }
    printf("ready %u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[max_events];
    while (!stopping) {
        int n = epoll_wait(ep, events, max_events, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            struct connection* c = events[i].data.ptr;
            if (c == NULL) {
                accept_all(ep, listen_fd);
            } else if (c->waiting_output) {
                on_writable(ep, c);
            } else {
                on_readable(ep, c);
            }
        }
    }
    /* Connections still open are closed by exit. */
    close(ep);
    close(listen_fd);
    return 0;
}
