#include "mv_random.h"

#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

static pthread_mutex_t entropy_lock = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_entropy_context entropy;
static int entropy_ready;

int mv_entropy(void *unused, unsigned char *out, size_t len)
{
    int ret;
    (void)unused;
    pthread_mutex_lock(&entropy_lock);
    if (!entropy_ready) {
        mbedtls_entropy_init(&entropy);
        entropy_ready = 1;
    }
    ret = mbedtls_entropy_func(&entropy, out, len);
    pthread_mutex_unlock(&entropy_lock);
    return ret;
}

static pthread_mutex_t drbg_lock = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_ctr_drbg_context drbg;
static int drbg_ready;
static pid_t drbg_pid;      /* the process that seeded or last reseeded it */

int mv_random(unsigned char *p, size_t n)
{
    int rc = -1;
    pthread_mutex_lock(&drbg_lock);
    if (!drbg_ready) {
        static const unsigned char pers[] = "missive";
        mbedtls_ctr_drbg_init(&drbg);
        if (mbedtls_ctr_drbg_seed(&drbg, mv_entropy, NULL, pers, sizeof pers - 1) != 0) {
            mbedtls_ctr_drbg_free(&drbg);
            goto done;
        }
        drbg_ready = 1;
        drbg_pid = getpid();
    }
    if (drbg_pid != getpid()) {
        /* A fork()ed child holds a copy of the parent's state: both would draw the same
         * bytes (forked nginx workers, identical Message-IDs).  Fresh entropy, with the
         * pid as additional input, parts them before the child's first draw. */
        pid_t pid = getpid();
        if (mbedtls_ctr_drbg_reseed(&drbg, (const unsigned char *)&pid, sizeof pid) != 0)
            goto done;
        drbg_pid = pid;
    }
    while (n > 0) {
        size_t k = n > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : n;
        if (mbedtls_ctr_drbg_random(&drbg, p, k) != 0) goto done;
        p += k;
        n -= k;
    }
    rc = 0;
done:
    pthread_mutex_unlock(&drbg_lock);
    return rc;
}
