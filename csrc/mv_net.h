/* The native driver: a socket the core owns, moved with poll(2) under deadlines.
 * Used when no Lua socket object is given; it blocks the calling thread. */
#ifndef MV_NET_H
#define MV_NET_H

#include "mv_pp.h"
#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Resolves host (IPv6 and IPv4) and connects with a deadline.  Returns the socket or
 * -1 with the error set.  *loopback tells whether the peer is a loopback address. */
int mv_net_connect(const char *host, int port, int timeout_ms, int *loopback, mv_error *e);

/* How long (microseconds) to spin for a reply before sleeping in poll(): 0 unless the
 * peer is on this machine and another core can run it while we spin. */
int mv_net_spin_us(int loopback);

/* Runs `step` until it returns MV_OK, MV_ERROR or MV_WANT_DATA, moving bytes between
 * the socket and pp->conn and failing with "timeout" at pp->deadline. */
typedef int (*mv_step_fn)(void *ud);
int mv_net_run(int fd, mv_pp *pp, mv_step_fn step, void *ud);

/* Writes what is queued, with the deadline (used before closing). */
int mv_net_flush(int fd, mv_pp *pp);
/* One write attempt that never waits: what the socket takes now (a last close_notify). */
void mv_net_flush_now(int fd, mv_pp *pp);

void mv_net_close(int fd);

MV_HIDDEN_END

#endif
