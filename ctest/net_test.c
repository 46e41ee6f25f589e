/* The native driver's wait for a reply: it spins only while replies come fast.  A peer
 * thread on a socketpair answers each "PING" after a chosen delay. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctest.h"
#include "mv_net.h"
#include "mv_pp.h"

typedef struct peer {
    int fd, rounds, delay_ms;
} peer;

static void *answer(void *ud)
{
    peer *p = ud;
    char buf[64];
    int i;
    for (i = 0; i < p->rounds; i++) {
        struct timespec d;
        if (read(p->fd, buf, sizeof buf) <= 0) break;
        d.tv_sec = p->delay_ms / 1000;
        d.tv_nsec = (long)(p->delay_ms % 1000) * 1000000L;
        nanosleep(&d, NULL);
        if (write(p->fd, "PONG\r\n", 6) != 6) break;
    }
    return NULL;
}

typedef struct ping {
    mv_pp *pp;
    int queued;
} ping;

/* Writes one PING, then wants input until the PONG is in. */
static int ping_step(void *ud)
{
    ping *g = ud;
    if (!g->queued) {
        g->queued = 1;
        mv_buf_append(&g->pp->conn.net_out, "PING\r\n", 6);
        return MV_WANT_READ;
    }
    return mv_buf_avail(&g->pp->conn.net_in) >= 6 ? MV_OK : MV_WANT_READ;
}

/* `rounds` PING/PONG exchanges with the peer answering after delay_ms. */
static void exchange(mv_pp *pp, mv_net *n, int peer_fd, int rounds, int delay_ms)
{
    peer p;
    pthread_t t;
    int i;
    p.fd = peer_fd;
    p.rounds = rounds;
    p.delay_ms = delay_ms;
    CHECK(pthread_create(&t, NULL, answer, &p) == 0);
    for (i = 0; i < rounds; i++) {
        ping g;
        g.pp = pp;
        g.queued = 0;
        CHECK(mv_net_run(n, pp, ping_step, &g) == MV_OK);
        mv_buf_reset(&pp->conn.net_in);
    }
    pthread_join(t, NULL);
}

/* `rounds` exchanges whose answer is already waiting: the fastest reply there is, even
 * under valgrind, which runs one thread at a time. */
static void exchange_ready(mv_pp *pp, mv_net *n, int peer_fd, int rounds)
{
    char buf[64];
    int i;
    for (i = 0; i < rounds; i++) {
        ping g;
        g.pp = pp;
        g.queued = 0;
        CHECK(write(peer_fd, "PONG\r\n", 6) == 6);
        CHECK(mv_net_run(n, pp, ping_step, &g) == MV_OK);
        mv_buf_reset(&pp->conn.net_in);
        CHECK(read(peer_fd, buf, sizeof buf) == 6);
    }
}

static void test_spin_adapts(void)
{
    int sv[2];
    mv_pp pp;
    mv_net n;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    mv_pp_init(&pp);
    mv_net_init(&n);
    n.fd = sv[0];
    n.spin_us = 200;
    /* Slow replies: the average goes far above the spin, which then stays off. */
    exchange(&pp, &n, sv[1], 3, 20);
    CHECK(n.reply_us > n.spin_us);
    CHECK(n.reply_us >= 5000);
    /* Fast replies bring it back under the spin (each one is a quarter of the average). */
    exchange_ready(&pp, &n, sv[1], 60);
    CHECK(n.reply_us < n.spin_us);
    mv_pp_free(&pp);
    close(sv[0]);
    close(sv[1]);
}

static void test_no_spin_no_bookkeeping(void)
{
    int sv[2];
    mv_pp pp;
    mv_net n;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    mv_pp_init(&pp);
    mv_net_init(&n);
    n.fd = sv[0];
    CHECK(n.spin_us == 0 && n.reply_us == 0);
    exchange(&pp, &n, sv[1], 2, 10);
    CHECK(n.reply_us == 0);
    mv_pp_free(&pp);
    close(sv[0]);
    close(sv[1]);
}

static void test_spin_policy(void)
{
    /* For loopback only when another core can run the peer (never for a remote one). */
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), loopback = 0;
    mv_net n;
    mv_error e;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(lfd >= 0);
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 1) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &al) == 0);
    mv_net_init(&n);
    CHECK(mv_net_connect(&n, "127.0.0.1", ntohs(a.sin_port), 2000, &loopback, &e) == MV_OK);
    CHECK(loopback == 1);
    CHECK(n.spin_us == (sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 200 : 0));
    mv_net_close(&n);
    CHECK(n.fd == -1);
    close(lfd);
}

int main(void)
{
    static const ctest_case cases[] = {
        { "spin follows the reply times", test_spin_adapts },
        { "no spin: plain poll", test_no_spin_no_bookkeeping },
        { "spin only for loopback on several cores", test_spin_policy },
        { NULL, NULL }
    };
    return ctest_run("net", cases);
}
