#include "mv_net.h"
#include "mv_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

static int remaining(long long deadline)
{
    long long left;
    if (deadline == 0) return -1;
    left = deadline - mv_now_ms();
    if (left <= 0) return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* poll() that survives EINTR and keeps the deadline. 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd p;
    for (;;) {
        int ms = remaining(deadline), r;
        if (ms == 0) return 0;
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        r = poll(&p, 1, ms);
        if (r > 0) return 1;
        if (r == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

/* A loopback peer on another core answers a command in tens of microseconds, a 10 KB
 * message in about a hundred; sleeping in poll() and being woken again costs tens of
 * microseconds more (more on a VM), on every round trip.  So while recent replies came
 * within SPIN_US, the wait for input first polls without sleeping for up to SPIN_US.
 * A slow server (a content filter, a large message) lifts the average above it and the
 * wait sleeps at once: the spin never burns CPU on replies it cannot catch. */
#define SPIN_US 200

static int spin_us_for(int loopback)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return loopback && cpus > 1 ? SPIN_US : 0;
}

static int wait_in(mv_net *n, const mv_pp *pp)
{
    long long t0, waited;
    int w = 0;
    if (n->spin_us <= 0) return wait_fd(n->fd, POLLIN, pp->deadline);
    t0 = mv_now_us();
    if (n->reply_us < n->spin_us) {
        struct pollfd p;
        do {
            p.fd = n->fd;
            p.events = POLLIN;
            p.revents = 0;
            if (poll(&p, 1, 0) > 0) { w = 1; break; }
        } while (mv_now_us() - t0 < n->spin_us);
    }
    if (w == 0) w = wait_fd(n->fd, POLLIN, pp->deadline);
    waited = mv_now_us() - t0;
    if (waited > 1000000) waited = 1000000;
    n->reply_us = (int)((3 * (long long)n->reply_us + waited) / 4);
    return w;
}

void mv_net_init(mv_net *n)
{
    n->fd = -1;
    n->spin_us = 0;
    n->reply_us = 0;
}

static int connect_fd(const char *host, int port, int timeout_ms, int *loopback, mv_error *e)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[16];
    long long deadline = timeout_ms > 0 ? mv_now_ms() + timeout_ms : 0;
    int rc, fd = -1, last_errno = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        /* AI_ADDRCONFIG hides ::1 and 127.0.0.1 on hosts with no other address. */
        hints.ai_flags = 0;
        rc = getaddrinfo(host, service, &hints, &res);
    }
    if (rc != 0) {
        mv_fail(e, MV_E_RESOLVE, "cannot resolve %.100s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1, soerr = 0;
        socklen_t sl = sizeof soerr;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { last_errno = errno; continue; }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        /* Commands are small and latency-bound: never let Nagle hold them back. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) goto connected;
        if (errno != EINPROGRESS && errno != EINTR) { last_errno = errno; goto next; }
        rc = wait_fd(fd, POLLOUT, deadline);
        if (rc == 0) {
            close(fd);
            freeaddrinfo(res);
            mv_fail(e, MV_E_TIMEOUT, "timed out connecting to %.100s port %d", host, port);
            return -1;
        }
        if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
            last_errno = errno;
            goto next;
        }
        if (soerr == 0) goto connected;
        last_errno = soerr;
next:
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    mv_fail(e, MV_E_IO, "cannot connect to %.100s port %d: %s", host, port,
            strerror(last_errno ? last_errno : ECONNREFUSED));
    return -1;
connected:
    *loopback = is_loopback(ai->ai_addr);
    freeaddrinfo(res);
    return fd;
}

int mv_net_connect(mv_net *n, const char *host, int port, int timeout_ms, int *loopback,
                   mv_error *e)
{
    n->fd = connect_fd(host, port, timeout_ms, loopback, e);
    if (n->fd < 0) return MV_ERROR;
    n->spin_us = spin_us_for(*loopback);
    n->reply_us = 0;
    return MV_OK;
}

static int flush_out(int fd, mv_pp *pp)
{
    mv_buf *out = &pp->conn.net_out;
    while (mv_buf_avail(out) > 0) {
        ssize_t n = send(fd, mv_buf_head(out), mv_buf_avail(out), MSG_NOSIGNAL);
        if (n > 0) {
            mv_buf_consume(out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(fd, POLLOUT, pp->deadline);
            if (w == 0) return mv_fail(&pp->err, MV_E_TIMEOUT, "timed out sending to the server");
            if (w < 0) return mv_fail(&pp->err, MV_E_IO, "poll failed: %s", strerror(errno));
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return mv_fail(&pp->err, MV_E_CLOSED, "connection closed by the server");
        return mv_fail(&pp->err, MV_E_IO, "send failed: %s", strerror(errno));
    }
    return MV_OK;
}

int mv_net_flush(const mv_net *n, mv_pp *pp)
{
    return flush_out(n->fd, pp);
}

void mv_net_flush_now(const mv_net *n, mv_pp *pp)
{
    mv_buf *out = &pp->conn.net_out;
    ssize_t sent;
    if (mv_buf_avail(out) == 0) return;
    do sent = send(n->fd, mv_buf_head(out), mv_buf_avail(out), MSG_NOSIGNAL | MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    if (sent > 0) mv_buf_consume(out, (size_t)sent);
}

/* Reads what has arrived.  After a write the answer is rarely there yet, so `wait_first`
 * polls before the first recv instead of paying for an EAGAIN. */
static int read_in(mv_net *nt, mv_pp *pp, int wait_first)
{
    unsigned char buf[65536];
    int fd = nt->fd;
    if (wait_first) {
        int w = wait_in(nt, pp);
        if (w == 0) return mv_fail(&pp->err, MV_E_TIMEOUT, "timed out waiting for the server");
        if (w < 0) return mv_fail(&pp->err, MV_E_IO, "poll failed: %s", strerror(errno));
    }
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
#ifdef TCP_QUICKACK
            /* Linux turns quick ACKs off again by itself; a server whose Nagle waits for
             * our delayed ACK would stall ~40 ms per reply split over two writes. */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
            if (mv_conn_feed(&pp->conn, buf, (size_t)n) != 0)
                return mv_fail(&pp->err, MV_E_MEMORY, "out of memory");
            return MV_OK;
        }
        if (n == 0) {
            mv_conn_feed_eof(&pp->conn);
            return MV_OK;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_in(nt, pp);
            if (w == 0)
                return mv_fail(&pp->err, MV_E_TIMEOUT, "timed out waiting for the server");
            if (w < 0) return mv_fail(&pp->err, MV_E_IO, "poll failed: %s", strerror(errno));
            continue;
        }
        if (errno == ECONNRESET) {
            mv_conn_feed_eof(&pp->conn);
            return MV_OK;
        }
        return mv_fail(&pp->err, MV_E_IO, "receive failed: %s", strerror(errno));
    }
}

/* A cheap look for an EOF already waiting: a FIN sorts before any data we have not read
 * only when no data is pending, which is the case between commands. */
static int peer_closed(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Driver failures go back through `step` once, so the protocol can classify them
 * (a timeout after the final dot is "uncertain", not "timeout"). */
int mv_net_run(mv_net *n, mv_pp *pp, mv_step_fn step, void *ud)
{
    int fd = n->fd;
    for (;;) {
        int r = step(ud), sent;
        if (r == MV_ERROR) return MV_ERROR;
        if (pp->eof_check && mv_buf_avail(&pp->conn.net_out) > 0) {
            pp->eof_check = 0;
            if (!pp->conn.eof && peer_closed(fd)) {
                /* Tell the protocol before it commits the final dot to a server that is
                 * already gone: then the message is known not sent. */
                mv_conn_feed_eof(&pp->conn);
                continue;
            }
        }
        sent = mv_buf_avail(&pp->conn.net_out) > 0;
        if (flush_out(fd, pp) != MV_OK) return step(ud);
        if (r == MV_OK || r == MV_WANT_BODY || r == MV_HAVE_CHUNK || r == MV_WANT_TOKEN)
            return r;
        if (r == MV_WANT_READ) {
            if (pp->conn.eof) {
                mv_fail(&pp->err, MV_E_CLOSED, "connection closed by the server");
                return step(ud);
            }
            if (read_in(n, pp, sent) != MV_OK) return step(ud);
        }
    }
}

void mv_net_close(mv_net *n)
{
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
}
