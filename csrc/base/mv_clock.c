#include "mv_clock.h"

#include <time.h>

long long mv_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long mv_now_ms(void)
{
    return mv_now_us() / 1000;
}
