/*
 * uring_echo.c - a hand-written liburing TCP echo server, the io_uring baseline
 * corio's echo benchmark is compared with (see README.md).
 *
 * One thread, one ring, one io_uring_submit_and_wait() per loop turn. Each
 * connection owns one buffer and has exactly one request in flight: recv, then
 * send until everything received is written back, then recv again. Nothing is
 * allocated per message.
 *
 * Like liburing itself, helpers return 0 or -errno.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "peer_uring_echo"
#define BACKEND "uring-c"

/* Requests in flight are one per connection plus accept and signal; 4096 SQEs
 * per turn is plenty, and a CQ this large never overflows with 20k+ sockets. */
#define SQ_ENTRIES 4096
#define CQ_ENTRIES 65536

/* user_data below UD_MAX names a singleton request; anything else is a
 * struct conn pointer (malloc'd, so 16-byte aligned) with OP_SEND in bit 0. */
enum { UD_ACCEPT = 1, UD_SIGNAL, UD_CLOSE, UD_CANCEL, UD_MAX = 16 };
/* Multishot mode: one buffer ring of this many buffers (as many as corio's
 * echo_server gives each loop), group id BGID. */
#define BR_ENTRIES 1024
#define BGID 7
#define OP_SEND 1u

struct conn {
    int fd;       /* slot in the registered file table, or a plain fd */
    unsigned len; /* bytes received into buf (multishot: in the queue's head) */
    unsigned off; /* bytes of them already sent back */
    /* Multishot receive only: buffers received and not yet echoed, oldest
     * first (a ring of buffer ids with their lengths), and the state of the
     * connection's two requests. */
    uint16_t* qbid;
    uint32_t* qlen;
    unsigned qhead, qcount, qcap;
    bool recv_armed; /* the multishot recv is in the kernel */
    bool sending;    /* a send is in the kernel */
    bool closing;    /* EOF or an error: finish the queue (EOF) and close */
    bool failed;     /* a send failed: drop the queue */
    struct conn* next_parked;
    unsigned char buf[]; /* buf_size bytes (single-shot mode only) */
};

struct server {
    struct io_uring ring;
    int lfd;
    int sfd;
    unsigned buf_size;
    bool fixed_files; /* connections live in the registered file table */
    bool multishot;   /* multishot accept works (5.19+) */
    bool accepted_any;
    bool accept_paused; /* out of descriptors: re-arm accept after a close */
    bool cqe_skip;      /* IOSQE_CQE_SKIP_SUCCESS (5.17+) */
    bool stop;
    /* Multishot receive into a provided-buffer ring (PEER_URING_MULTISHOT_RECV=1):
     * the same kernel features corio's echo_server uses by default. */
    bool ms_recv;
    struct io_uring_buf_ring* br;
    unsigned char* bufs; /* BR_ENTRIES * buf_size bytes */
    struct conn* parked; /* connections whose recv ended with ENOBUFS */
    unsigned max_conns;
    struct conn** conns; /* indexed by fd/slot, so SIGTERM can close them all */
    struct signalfd_siginfo siginfo;
};

static void die(const char* what, int err) {
    fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(err));
    exit(1);
}

static struct io_uring_sqe* get_sqe(struct server* s) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) {
        /* SQ full (a huge batch of completions): hand it to the kernel now. */
        int ret = io_uring_submit(&s->ring);
        if (ret < 0) die("io_uring_submit", -ret);
        sqe = io_uring_get_sqe(&s->ring);
        if (!sqe) die("io_uring_get_sqe", EBUSY);
    }
    return sqe;
}

static void post_recv(struct server* s, struct conn* c) {
    struct io_uring_sqe* sqe = get_sqe(s);
    io_uring_prep_recv(sqe, c->fd, c->buf, s->buf_size, 0);
    if (s->fixed_files) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data(sqe, c);
}

static void post_send(struct server* s, struct conn* c) {
    struct io_uring_sqe* sqe = get_sqe(s);
    /* MSG_NOSIGNAL: a peer that resets must cost an error, not SIGPIPE. */
    io_uring_prep_send(sqe, c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (s->fixed_files) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | OP_SEND);
}

static void arm_recv_multi(struct server* s, struct conn* c);

static void arm_accept(struct server* s) {
    struct io_uring_sqe* sqe = get_sqe(s);
    if (s->fixed_files)
        io_uring_prep_multishot_accept_direct(sqe, s->lfd, NULL, NULL, 0);
    else if (s->multishot)
        io_uring_prep_multishot_accept(sqe, s->lfd, NULL, NULL, 0);
    else
        io_uring_prep_accept(sqe, s->lfd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, UD_ACCEPT);
}

static void close_conn(struct server* s, struct conn* c) {
    /* The close rides in the next submit instead of costing its own syscall.
     * No other request of this connection is in flight, so c can go now. */
    struct io_uring_sqe* sqe = get_sqe(s);
    if (s->fixed_files)
        io_uring_prep_close_direct(sqe, (unsigned)c->fd);
    else
        io_uring_prep_close(sqe, c->fd);
    io_uring_sqe_set_data64(sqe, UD_CLOSE);
    if (s->cqe_skip) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    s->conns[c->fd] = NULL;
    free(c);
    if (s->accept_paused) {
        s->accept_paused = false;
        arm_accept(s);
    }
}

static void on_accept(struct server* s, const struct io_uring_cqe* cqe) {
    int res = cqe->res;
    if (res >= 0) {
        s->accepted_any = true;
        struct conn* c = NULL;
        if ((unsigned)res < s->max_conns)
            c = calloc(1, sizeof(*c) + (s->ms_recv ? 0 : s->buf_size));
        if (!c) {
            struct io_uring_sqe* sqe = get_sqe(s);
            if (s->fixed_files)
                io_uring_prep_close_direct(sqe, (unsigned)res);
            else
                io_uring_prep_close(sqe, res);
            io_uring_sqe_set_data64(sqe, UD_CLOSE);
        } else {
            c->fd = res;
            s->conns[res] = c;
            if (s->ms_recv)
                arm_recv_multi(s, c);
            else
                post_recv(s, c);
        }
    } else if (res == -EINVAL && s->multishot && !s->accepted_any) {
        /* Kernel before 5.19: no multishot accept (nor accept-direct). */
        s->multishot = false;
        s->fixed_files = false;
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) {
        /* Out of descriptors or table slots: re-arming now would spin. */
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
            fprintf(stderr, "%s: accept: %s (paused until a connection closes)\n", PROG,
                    strerror(-res));
            s->accept_paused = true;
        }
        return;
    }
    /* Multishot accept stays armed while CQEs carry F_MORE; re-arm otherwise. */
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(s);
}

/* ---- multishot receive mode ------------------------------------------- */

static unsigned char* buf_of(struct server* s, unsigned bid) {
    return s->bufs + (size_t)bid * s->buf_size;
}

static void arm_recv_multi(struct server* s, struct conn* c) {
    struct io_uring_sqe* sqe = get_sqe(s);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    if (s->fixed_files) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data(sqe, c);
    c->recv_armed = true;
}

/* A buffer goes back to the ring; one connection starved of buffers (its
 * multishot recv ended with ENOBUFS) gets its recv back. */
static void give_back(struct server* s, unsigned bid) {
    io_uring_buf_ring_add(s->br, buf_of(s, bid), s->buf_size, (unsigned short)bid,
                          io_uring_buf_ring_mask(BR_ENTRIES), 0);
    io_uring_buf_ring_advance(s->br, 1);
    struct conn* p = s->parked;
    if (p) {
        s->parked = p->next_parked;
        p->next_parked = NULL;
        if (!p->closing) arm_recv_multi(s, p);
    }
}

static void post_send_head(struct server* s, struct conn* c) {
    unsigned bid = c->qbid[c->qhead];
    struct io_uring_sqe* sqe = get_sqe(s);
    io_uring_prep_send(sqe, c->fd, buf_of(s, bid) + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (s->fixed_files) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | OP_SEND);
    c->sending = true;
}

static void start_next_send(struct server* s, struct conn* c) {
    if (c->sending || c->qcount == 0) return;
    c->len = c->qlen[c->qhead];
    c->off = 0;
    post_send_head(s, c);
}

static void push_buffer(struct server* s, struct conn* c, unsigned bid, unsigned len) {
    if (c->qcount == c->qcap) {
        /* Grow (rare: only while a send is stuck behind a slow reader). */
        unsigned cap = c->qcap ? c->qcap * 2 : 8;
        uint16_t* nb = malloc(cap * sizeof(*nb));
        uint32_t* nl = malloc(cap * sizeof(*nl));
        if (!nb || !nl) die("malloc", ENOMEM);
        for (unsigned i = 0; i < c->qcount; i++) {
            nb[i] = c->qbid[(c->qhead + i) % c->qcap];
            nl[i] = c->qlen[(c->qhead + i) % c->qcap];
        }
        free(c->qbid);
        free(c->qlen);
        c->qbid = nb;
        c->qlen = nl;
        c->qcap = cap;
        c->qhead = 0;
    }
    unsigned tail = (c->qhead + c->qcount) % c->qcap;
    c->qbid[tail] = (uint16_t)bid;
    c->qlen[tail] = len;
    c->qcount++;
    (void)s;
}

static void maybe_close_ms(struct server* s, struct conn* c) {
    if (c->closing && !c->recv_armed && !c->sending && c->qcount == 0 && !c->next_parked &&
        s->parked != c) {
        free(c->qbid);
        free(c->qlen);
        close_conn(s, c);
    }
}

static void unpark(struct server* s, struct conn* c);

static void fail_ms(struct server* s, struct conn* c) {
    /* A send failed (reset): drop what is queued, stop the recv, close. */
    unpark(s, c);
    c->failed = true;
    c->closing = true;
    while (c->qcount) {
        give_back(s, c->qbid[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qcount--;
    }
    if (c->recv_armed) {
        struct io_uring_sqe* sqe = get_sqe(s);
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c, 0);
        io_uring_sqe_set_data64(sqe, UD_CANCEL);
    }
}

static void unpark(struct server* s, struct conn* c) {
    for (struct conn** p = &s->parked; *p; p = &(*p)->next_parked) {
        if (*p == c) {
            *p = c->next_parked;
            c->next_parked = NULL;
            return;
        }
    }
}

static void handle_ms(struct server* s, struct conn* c, uint64_t ud,
                      const struct io_uring_cqe* cqe) {
    int res = cqe->res;
    if (ud & OP_SEND) {
        c->sending = false;
        if (res <= 0) {
            fail_ms(s, c);
        } else if (!c->failed) {
            c->off += (unsigned)res;
            if (c->off < c->len) {
                post_send_head(s, c); /* short send: the rest first */
                return;
            }
            unsigned bid = c->qbid[c->qhead];
            c->qhead = (c->qhead + 1) % c->qcap;
            c->qcount--;
            give_back(s, bid);
            start_next_send(s, c);
        }
        maybe_close_ms(s, c);
        return;
    }
    /* A recv completion: bytes in a ring buffer, or the end of the request. */
    if (res > 0) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (c->failed) {
            give_back(s, bid);
        } else {
            push_buffer(s, c, bid, (unsigned)res);
            start_next_send(s, c);
        }
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        c->recv_armed = false;
        if (!c->closing) {
            if (res > 0) {
                arm_recv_multi(s, c); /* the kernel ended it (e.g. CQ pressure) */
            } else if (res == -ENOBUFS) {
                c->next_parked = s->parked; /* until a buffer comes back */
                s->parked = c;
            } else {
                c->closing = true; /* EOF (echo what is queued, then close) or error */
                if (res < 0) fail_ms(s, c);
            }
        }
        if (c->closing) unpark(s, c);
    }
    maybe_close_ms(s, c);
}

static bool setup_buf_ring(struct server* s) {
    size_t ring_bytes = BR_ENTRIES * sizeof(struct io_uring_buf);
    void* ring_mem = NULL;
    if (posix_memalign(&ring_mem, 4096, ring_bytes)) return false;
    memset(ring_mem, 0, ring_bytes);
    s->bufs = malloc((size_t)BR_ENTRIES * s->buf_size);
    if (!s->bufs) return false;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)(uintptr_t)ring_mem;
    reg.ring_entries = BR_ENTRIES;
    reg.bgid = BGID;
    if (io_uring_register_buf_ring(&s->ring, &reg, 0) != 0) {
        free(ring_mem);
        free(s->bufs);
        s->bufs = NULL;
        return false;
    }
    s->br = ring_mem;
    io_uring_buf_ring_init(s->br);
    for (unsigned i = 0; i < BR_ENTRIES; i++)
        io_uring_buf_ring_add(s->br, buf_of(s, i), s->buf_size, (unsigned short)i,
                              io_uring_buf_ring_mask(BR_ENTRIES), (int)i);
    io_uring_buf_ring_advance(s->br, BR_ENTRIES);
    return true;
}

static void handle_cqe(struct server* s, const struct io_uring_cqe* cqe) {
    uint64_t ud = cqe->user_data;
    if (ud < UD_MAX) {
        if (ud == UD_ACCEPT)
            on_accept(s, cqe);
        else if (ud == UD_SIGNAL)
            s->stop = true;
        /* UD_CLOSE: nothing to do (only seen when CQE_SKIP is unavailable). */
        return;
    }
    struct conn* c = (struct conn*)(uintptr_t)(ud & ~(uint64_t)OP_SEND);
    if (s->ms_recv) {
        handle_ms(s, c, ud, cqe);
        return;
    }
    int res = cqe->res;
    if (res <= 0) { /* EOF, reset or other error: the connection is done */
        close_conn(s, c);
        return;
    }
    if (ud & OP_SEND) {
        c->off += (unsigned)res;
        /* A short send is legal on a stream socket: send the rest first. */
        if (c->off < c->len)
            post_send(s, c);
        else
            post_recv(s, c);
    } else {
        c->len = (unsigned)res;
        c->off = 0;
        post_send(s, c);
    }
}

static int setup_ring(struct server* s, const char** setup_name) {
    /* Best first. SINGLE_ISSUER|DEFER_TASKRUN (6.1+) runs completion work
     * only inside our io_uring_enter; COOP_TASKRUN (5.19+) at least avoids
     * IPIs. Each is refused with EINVAL by an older kernel. */
    static const struct {
        unsigned flags;
        const char* name;
    } tries[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single_issuer+defer_taskrun"},
        {IORING_SETUP_COOP_TASKRUN, "coop_taskrun"},
        {0, "plain"},
    };
    int ret = -EINVAL;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = tries[i].flags | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        ret = io_uring_queue_init_params(SQ_ENTRIES, &s->ring, &p);
        if (ret == 0) {
            *setup_name = tries[i].name;
            s->cqe_skip = p.features & IORING_FEAT_CQE_SKIP;
            return 0;
        }
        if (ret != -EINVAL) break;
    }
    return ret;
}

static void usage(FILE* f) {
    fprintf(f, "usage: " PROG
               " [--host ADDR] [--port PORT] [--buf-size BYTES]\n"
               "Single-threaded io_uring TCP echo server (a benchmark baseline).\n"
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
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket", errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Accepted sockets inherit TCP_NODELAY from the listener, which matters
     * here: accept-direct sockets have no fd to call setsockopt() on. */
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

    /* Block the signals before anything can arrive; they are read from a
     * signalfd through the ring, so stopping needs no handler and no race. */
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

    const char* setup_name = "";
    int ret = setup_ring(s, &setup_name);
    if (ret < 0) die("io_uring_queue_init_params", -ret);
    /* Registered ring fd (5.18+): io_uring_enter skips the fd lookup. */
    bool ring_registered = io_uring_register_ring_fd(&s->ring) == 1;
    /* Sparse file table (5.19+) for multishot accept-direct: the kernel then
     * skips the fd table lookup and refcount on every recv and send. It is
     * bounded by RLIMIT_NOFILE like ordinary descriptors. */
    s->multishot = true;
    const char* no_fixed = getenv("PEER_URING_NO_FIXED_FILES");
    s->fixed_files = !(no_fixed && *no_fixed == '1') &&
                     io_uring_register_files_sparse(&s->ring, s->max_conns) == 0;

    const char* ms = getenv("PEER_URING_MULTISHOT_RECV");
    if (ms && *ms == '1') {
        s->ms_recv = setup_buf_ring(s);
        if (!s->ms_recv)
            fprintf(stderr, "%s: no provided-buffer ring: single-shot recv\n", PROG);
    }

    arm_accept(s);
    struct io_uring_sqe* sqe = get_sqe(s);
    io_uring_prep_read(sqe, s->sfd, &s->siginfo, sizeof(s->siginfo), 0);
    io_uring_sqe_set_data64(sqe, UD_SIGNAL);

    fprintf(stderr, "%s: setup=%s registered_ring=%s fixed_files=%s recv=%s buf_size=%u\n", PROG,
            setup_name, ring_registered ? "yes" : "no", s->fixed_files ? "yes" : "no",
            s->ms_recv ? "multishot" : "single", s->buf_size);
    printf("listening %s backend=" BACKEND " loops=1\n", name);
    fflush(stdout);

    while (!s->stop) {
        ret = io_uring_submit_and_wait(&s->ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
            die("io_uring_submit_and_wait", -ret);
        /* Reap the whole batch, then publish the new CQ head once. */
        struct io_uring_cqe* cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&s->ring, head, cqe) {
            handle_cqe(s, cqe);
            n++;
            if (s->stop) break;
        }
        io_uring_cq_advance(&s->ring, n);
    }

    /* Tearing the ring down cancels the requests still in flight and drops
     * the registered files, which closes those sockets; plain descriptors we
     * close ourselves. */
    for (unsigned i = 0; i < s->max_conns; i++) {
        if (!s->conns[i]) continue;
        if (!s->fixed_files) close(s->conns[i]->fd);
    }
    io_uring_queue_exit(&s->ring);
    close(s->lfd);
    close(s->sfd);
    /* The buffers are not freed: cancellation finishes asynchronously in the
     * kernel, and the process is about to exit anyway. */
    return 0;
}
