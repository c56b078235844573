/* The near-limit baseline of net_bench: a minimal epoll TCP echo server in plain C.
 * Level-triggered, non-blocking; each readable connection gets one recv() into its own
 * 64 KiB buffer and one send() of what came in. Only when the kernel takes less than
 * that is the rest kept and the connection switched to waiting for writability (the only
 * epoll_ctl after accept). No allocation, timer or parsing per message.
 *   net_baseline_epoll PORT [--threads N] [--cpu C] [--spin]
 * Port 0 picks a free port. Prints "ready PORT" once listening. --threads N runs N
 * threads with an SO_REUSEPORT socket each (thread i pinned to cpu C+i with --cpu);
 * --spin polls epoll without sleeping. SIGTERM or SIGINT stops it (exit status 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { buffer_size = 64 * 1024, max_events = 256 };

struct connection {
    int fd;
    size_t pending_off; /* bytes of buf[pending_off, pending_end) still to send */
    size_t pending_end;
    char buf[buffer_size];
};

struct worker {
    int listen_fd;
    int cpu; /* -1: not pinned */
    int spin;
    pthread_t thread;
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

static int make_listener(unsigned short port, int reuse_port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket");
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        die("SO_REUSEPORT");
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr*)&sa, sizeof sa) < 0) {
        die("bind");
    }
    if (listen(fd, 1024) < 0) {
        die("listen");
    }
    return fd;
}

static unsigned short bound_port(int fd) {
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr*)&sa, &len) < 0) {
        die("getsockname");
    }
    return ntohs(sa.sin_port);
}

static void drop(int ep, struct connection* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static void accept_all(int ep, int listen_fd) {
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or a connection gone before accept: nothing to do */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct connection* c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->pending_off = c->pending_end = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

/* Sends what is pending. Returns 0 when all of it went, 1 when the socket is full,
 * -1 when the connection failed. */
static int send_pending(struct connection* c) {
    while (c->pending_off < c->pending_end) {
        ssize_t n = send(c->fd, c->buf + c->pending_off, c->pending_end - c->pending_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN ? 1 : -1;
        }
        c->pending_off += (size_t)n;
    }
    c->pending_off = c->pending_end = 0;
    return 0;
}

/* Switches what the connection waits for: input, or room to send its pending echo. */
static void wait_for(int ep, struct connection* c, unsigned events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void on_ready(int ep, struct connection* c, unsigned events) {
    if (c->pending_end != 0) {
        /* Waiting for writability: nothing is read until the echo so far has gone. */
        int r = send_pending(c);
        if (r < 0) {
            drop(ep, c);
        } else if (r == 0) {
            wait_for(ep, c, EPOLLIN);
        }
        return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        return;
    }
    ssize_t n = recv(c->fd, c->buf, buffer_size, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        drop(ep, c); /* end of stream or reset */
        return;
    }
    c->pending_end = (size_t)n;
    int r = send_pending(c);
    if (r < 0) {
        drop(ep, c);
    } else if (r == 1) {
        wait_for(ep, c, EPOLLOUT);
    }
}

static void* run_worker(void* arg) {
    struct worker* w = arg;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0) {
            perror("sched_setaffinity");
        }
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        die("epoll_create1");
    }
    /* The listener is told apart from connections by a null data pointer. */
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, w->listen_fd, &lev) < 0) {
        die("epoll_ctl");
    }
    struct epoll_event events[max_events];
    int timeout = w->spin ? 0 : 100; /* a sleeping worker still notices a stop within 100 ms */
    while (!stopping) {
        int n = epoll_wait(ep, events, max_events, timeout);
        for (int i = 0; i < n; ++i) {
            if (events[i].data.ptr == NULL) {
                accept_all(ep, w->listen_fd);
            } else {
                on_ready(ep, events[i].data.ptr, events[i].events);
            }
        }
    }
    /* Connections still open at exit are closed by the kernel. */
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [--threads N] [--cpu C] [--spin]\n", argv[0]);
        return 2;
    }
    unsigned short port = (unsigned short)strtoul(argv[1], NULL, 10);
    int threads = 1, cpu = -1, spin = 0;
    for (int i = 2; i < argc; ++i) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc) {
            cpu = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--spin") == 0) {
            spin = 1;
        } else {
            fprintf(stderr, "%s: unknown argument %s\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "%s: --threads must be 1..256\n", argv[0]);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a sleeping epoll_wait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct worker* workers = calloc((size_t)threads, sizeof *workers);
    if (!workers) {
        die("calloc");
    }
    /* The first socket fixes the port (port 0: the kernel's choice); the others share it. */
    for (int i = 0; i < threads; ++i) {
        workers[i].listen_fd = make_listener(i == 0 ? port : bound_port(workers[0].listen_fd), threads > 1);
        workers[i].cpu = cpu < 0 ? -1 : cpu + i;
        workers[i].spin = spin;
    }
    printf("ready %u\n", (unsigned)bound_port(workers[0].listen_fd));
    fflush(stdout);
    for (int i = 1; i < threads; ++i) {
        if (pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]) != 0) {
            die("pthread_create");
        }
    }
    run_worker(&workers[0]);
    for (int i = 1; i < threads; ++i) {
        pthread_join(workers[i].thread, NULL);
    }
    for (int i = 0; i < threads; ++i) {
        close(workers[i].listen_fd);
    }
    free(workers);
    return 0;
}
