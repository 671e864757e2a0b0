/*
 * epoll_echo.c - a hand-written epoll TCP echo server, the readiness-based
 * baseline corio's echo benchmark is compared with (see README.md).
 *
 * One thread, one epoll_wait() per loop turn. Every socket is non-blocking and
 * registered once, edge-triggered; in steady state an echoed message costs one
 * recv() and one send() plus a share of epoll_wait(). Nothing is allocated per
 * message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "peer_epoll_echo"
#define BACKEND "epoll-c"
#define MAX_EVENTS 1024

struct conn {
    int fd;
    bool eof_seen;       /* RDHUP/HUP reported: read on to the 0, not only to a short read */
    bool out_registered; /* EPOLLOUT already in the interest set */
    unsigned len;        /* pending output: buf[off, len) still to be sent */
    unsigned off;
    unsigned char buf[]; /* buf_size bytes */
};

struct server {
    int epfd;
    int lfd;
    int sfd;
    unsigned buf_size;
    bool accept_paused; /* out of descriptors: accept again after a close */
    unsigned max_conns;
    struct conn** conns; /* indexed by fd, so SIGTERM can close them all */
};

/* epoll_event.data.ptr for the two descriptors that are not connections. */
static char listener_tag, signal_tag;

static void die(const char* what, int err) {
    fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(err));
    exit(1);
}

static void accept_all(struct server* s);

static void close_conn(struct server* s, struct conn* c) {
    /* close() also removes the descriptor from the epoll set. */
    close(c->fd);
    s->conns[c->fd] = NULL;
    free(c);
    if (s->accept_paused) {
        /* The listener is edge-triggered: the edge we stopped at is gone. */
        s->accept_paused = false;
        accept_all(s);
    }
}

/* Sends buf[off, len). Returns 0 when all is sent, 1 if the socket is full,
 * -errno on error. */
static int flush(struct conn* c) {
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n > 0) {
            c->off += (unsigned)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 1;
        } else {
            return n < 0 ? -errno : -EPIPE;
        }
    }
    c->off = c->len = 0;
    return 0;
}

/* Reads and echoes until the socket is drained. Returns false if c is gone. */
static bool echo(struct server* s, struct conn* c) {
    for (;;) {
        ssize_t n = recv(c->fd, c->buf, s->buf_size, 0);
        if (n > 0) {
            c->off = 0;
            c->len = (unsigned)n;
            int ret = flush(c);
            if (ret < 0) break;
            if (ret > 0) {
                /* The peer is not reading: keep the rest, stop reading, and
                 * finish on EPOLLOUT. The interest stays registered once
                 * added; with edge triggering it only fires after the send
                 * buffer was full, so it costs less than two EPOLL_CTL_MODs
                 * per stall. */
                if (!c->out_registered) {
                    struct epoll_event ev = {
                        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                        .data.ptr = c,
                    };
                    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) break;
                    c->out_registered = true;
                }
                return true;
            }
            /* A short read of a stream socket means it was drained (epoll(7)),
             * so the recv() that would return EAGAIN is skipped; data that
             * arrives later raises a new edge. A pending FIN raises none,
             * hence eof_seen. */
            if ((size_t)n < s->buf_size && !c->eof_seen) return true;
        } else if (n == 0) {
            break; /* EOF */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return true;
        } else if (errno != EINTR) {
            break;
        }
    }
    close_conn(s, c);
    return false;
}

static void on_conn_event(struct server* s, struct conn* c, uint32_t ev) {
    if (ev & EPOLLERR) { /* reset or other socket error */
        close_conn(s, c);
        return;
    }
    if (ev & (EPOLLRDHUP | EPOLLHUP)) c->eof_seen = true;
    if (c->len) {
        /* Output pending: input edges are left for later (the data stays
         * in the socket); once the rest is out, read what came meanwhile. */
        if (!(ev & EPOLLOUT)) return;
        int ret = flush(c);
        if (ret < 0) {
            close_conn(s, c);
            return;
        }
        if (ret > 0) return;
        echo(s, c);
        return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) echo(s, c);
}

static void accept_all(struct server* s) {
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                fprintf(stderr, "%s: accept: %s (paused until a connection closes)\n", PROG,
                        strerror(errno));
                s->accept_paused = true;
                return;
            }
            fprintf(stderr, "%s: accept: %s\n", PROG, strerror(errno));
            return;
        }
        struct conn* c = NULL;
        if ((unsigned)fd < s->max_conns) c = malloc(sizeof(*c) + s->buf_size);
        if (!c) {
            close(fd);
            continue;
        }
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        /* Registered once for the connection's lifetime (edge-triggered); if
         * data is already there, the ADD itself reports it. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        s->conns[fd] = c;
    }
}

static void usage(FILE* f) {
    fprintf(f, "usage: " PROG
               " [--host ADDR] [--port PORT] [--buf-size BYTES]\n"
               "Single-threaded epoll TCP echo server (a benchmark baseline).\n"
               "  --host ADDR       numeric IPv4/IPv6 address to listen on (default 127.0.0.1)\n"
               "  --port PORT       port to listen on; 0 picks a free one (default 0)\n"
               "  --buf-size BYTES  per-connection receive buffer (default 4096)\n"
               "Prints 'listening HOST:PORT backend=" BACKEND
               " loops=1' when ready; exits 0 on SIGINT/SIGTERM.\n");
}

static void bad_usage(const char* msg, const char* arg) {
    fprintf(stderr, "%s: %s '%s' (try --help)\n", PROG, msg, arg);
    exit(2);
}

/* Accepts "--name value" and "--name=value"; returns the value or NULL. */
static const char* opt_value(int argc, char** argv, int* i, const char* name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    if (*i + 1 >= argc) bad_usage("missing value for", name);
    return argv[++*i];
}

static unsigned long parse_num(const char* v, const char* name, unsigned long min,
                               unsigned long max) {
    char* end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
        bad_usage(name[2] == 'p' ? "bad port" : "bad buffer size", v);
    return x;
}

/* Binds and listens; fills name with "HOST:PORT" as actually bound. */
static int open_listener(const char* host, unsigned port, char* name, size_t name_len) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in* a4 = (struct sockaddr_in*)&ss;
    struct sockaddr_in6* a6 = (struct sockaddr_in6*)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof(*a6);
    } else {
        bad_usage("not a numeric IPv4/IPv6 address", host);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket", errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Accepted sockets inherit TCP_NODELAY from the listener: no setsockopt()
     * per connection (the io_uring peer does the same). */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr*)&ss, len) < 0) die("bind", errno);
    if (listen(fd, SOMAXCONN) < 0) die("listen", errno);
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr*)&ss, &len) < 0) die("getsockname", errno);
    char ip[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
        snprintf(name, name_len, "%s:%u", ip, ntohs(a4->sin_port));
    } else {
        inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
        snprintf(name, name_len, "[%s]:%u", ip, ntohs(a6->sin6_port));
    }
    return fd;
}

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    unsigned port = 0;
    static struct server srv;
    struct server* s = &srv;
    s->buf_size = 4096;

    for (int i = 1; i < argc; i++) {
        const char* v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((v = opt_value(argc, argv, &i, "--host"))) {
            host = v;
        } else if ((v = opt_value(argc, argv, &i, "--port"))) {
            port = (unsigned)parse_num(v, "--port", 0, 65535);
        } else if ((v = opt_value(argc, argv, &i, "--buf-size"))) {
            s->buf_size = (unsigned)parse_num(v, "--buf-size", 1, 1u << 24);
        } else {
            bad_usage("unknown option", argv[i]);
        }
    }

    /* Signals arrive as readable data on a signalfd in the epoll set: no
     * handler, no race between a flag check and epoll_wait(). */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    s->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sfd < 0) die("signalfd", errno);

    /* 10k+ connections need more than the usual soft limit of 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    s->max_conns = rl.rlim_cur > (1u << 20) ? (1u << 20) : (unsigned)rl.rlim_cur;
    s->conns = calloc(s->max_conns, sizeof(*s->conns));
    if (!s->conns) die("calloc", ENOMEM);

    char name[INET6_ADDRSTRLEN + 16];
    s->lfd = open_listener(host, port, name, sizeof(name));

    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) die("epoll_create1", errno);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = &listener_tag};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0) die("epoll_ctl", errno);
    ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &signal_tag};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sfd, &ev) < 0) die("epoll_ctl", errno);

    fprintf(stderr, "%s: edge-triggered buf_size=%u\n", PROG, s->buf_size);
    printf("listening %s backend=" BACKEND " loops=1\n", name);
    fflush(stdout);

    static struct epoll_event events[MAX_EVENTS];
    bool stop = false;
    while (!stop) {
        int n = epoll_wait(s->epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait", errno);
        }
        for (int i = 0; i < n; i++) {
            void* p = events[i].data.ptr;
            if (p == &listener_tag)
                accept_all(s);
            else if (p == &signal_tag)
                stop = true;
            else
                on_conn_event(s, p, events[i].events);
        }
    }

    for (unsigned i = 0; i < s->max_conns; i++) {
        if (s->conns[i]) {
            close(s->conns[i]->fd);
            free(s->conns[i]);
        }
    }
    free(s->conns);
    close(s->epfd);
    close(s->lfd);
    close(s->sfd);
    return 0;
}
