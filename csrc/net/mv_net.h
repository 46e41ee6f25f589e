/* The native driver: a socket the core owns, moved with poll(2) under deadlines.
 * Used when no Lua socket object is given; it blocks the calling thread. */
#ifndef MV_NET_H
#define MV_NET_H

#include "mv_pp.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* A socket the driver owns, and how it waits for replies. */
typedef struct mv_net {
    int fd;        /* -1 when not connected */
    int spin_us;   /* look for a reply this long before sleeping in poll(): 0 unless the
                    * peer is on this machine and another core can run it meanwhile */
    int reply_us;  /* recent wait for input (moving average) */
} mv_net;

void mv_net_init(mv_net *n);

/* Resolves host (IPv6 and IPv4) and connects with a deadline: MV_OK, or MV_ERROR with
 * the error set.  *loopback tells whether the peer is a loopback address. */
int mv_net_connect(mv_net *n, const char *host, int port, int timeout_ms, int *loopback,
                   mv_error *e);

/* Runs `step` until it returns MV_OK, MV_ERROR, MV_WANT_BODY or MV_HAVE_CHUNK, moving bytes between
 * the socket and pp->conn and failing with "timeout" at pp->deadline. */
typedef int (*mv_step_fn)(void *ud);
int mv_net_run(mv_net *n, mv_pp *pp, mv_step_fn step, void *ud);

/* Writes what is queued, with the deadline (used before closing). */
int mv_net_flush(const mv_net *n, mv_pp *pp);
/* One write attempt that never waits: what the socket takes now (a last close_notify). */
void mv_net_flush_now(const mv_net *n, mv_pp *pp);

/* Closes the socket, if any (fd becomes -1). */
void mv_net_close(mv_net *n);

MV_HIDDEN_END

#endif
