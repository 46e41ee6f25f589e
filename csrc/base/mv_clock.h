/* The core's one clock: deadlines, timeouts and backoff all read it. */
#ifndef MV_CLOCK_H
#define MV_CLOCK_H

#include "mv_visibility.h"

MV_HIDDEN_BEGIN

/* Milliseconds (microseconds) from a monotonic clock. */
long long mv_now_ms(void);
long long mv_now_us(void);

MV_HIDDEN_END

#endif
