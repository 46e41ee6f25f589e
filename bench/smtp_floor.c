/* bench/smtp_floor.c HOST PORT COUNT SIZE RUNS KEY MODE - messages/s of the smallest
 * client that still follows the protocol, over one session; the reference for what any
 * correct client can reach against a sink.
 *
 * MODE "pipe" (RFC 2920): MAIL, RCPT and DATA go in one write; the client must wait for
 * the 354 before the body, then the end of data travels with the next envelope.  One
 * round trip per message is the floor; the raw replay (smtp_peers.py raw) skips it and
 * is not a correct client.  MODE "nopipe": every command waits for its reply.
 * Blocking reads, no TLS, no checks beyond the reply codes it waits for. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char in[65536];
static size_t in_len;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void put(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

/* Reads reply lines until a final line ("ddd ") with this code; any other final code
 * fails. */
static void expect(int fd, const char *code)
{
    for (;;) {
        char *nl;
        while ((nl = memchr(in, '\n', in_len)) != NULL) {
            size_t n = (size_t)(nl - in) + 1;
            int final = n >= 4 && in[3] == ' ', hit = final && memcmp(in, code, 3) == 0;
            if (final && !hit) {
                fprintf(stderr, "smtp_floor: wanted %s, got %.*s", code, (int)n, in);
                exit(1);
            }
            memmove(in, in + n, in_len - n);
            in_len -= n;
            if (hit) return;
        }
        {
            ssize_t r = read(fd, in + in_len, sizeof in - in_len);
            if (r <= 0) die("read");
            in_len += (size_t)r;
#ifdef TCP_QUICKACK
            /* as missive does: no 40 ms delayed-ACK stall behind a large body */
            setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
#endif
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char hdr[] = "From: <a@example.org>\r\nTo: <b@example.org>\r\nSubject: bench\r\n\r\n";
static const char line[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;abcdefghijk\r\n";
static const char mail[] = "MAIL FROM:<a@example.org>\r\n", rcpt[] = "RCPT TO:<b@example.org>\r\n",
                  data[] = "DATA\r\n";

int main(int argc, char **argv)
{
    int port, count, size, runs, pipe_mode, run, lines, one = 1;
    double *rates;
    char *msg, *env;
    size_t msg_len = 0, env_len;
    if (argc != 8) {
        fprintf(stderr, "usage: smtp_floor HOST PORT COUNT SIZE RUNS KEY pipe|nopipe\n");
        return 2;
    }
    port = atoi(argv[2]);
    count = atoi(argv[3]);
    size = atoi(argv[4]);
    runs = atoi(argv[5]);
    pipe_mode = strcmp(argv[7], "pipe") == 0;
    rates = calloc((size_t)runs, sizeof *rates);
    /* The same message as bench/common.lua: headers, 76-character lines, the dot. */
    msg = malloc((size_t)size + sizeof line + 8);
    env = malloc(sizeof mail + sizeof rcpt + sizeof data);
    if (rates == NULL || msg == NULL || env == NULL) die("malloc");
    memcpy(msg, hdr, sizeof hdr - 1);
    msg_len = sizeof hdr - 1;
    for (lines = (size - (int)(sizeof hdr - 1)) / (int)(sizeof line - 1); lines > 0; lines--) {
        memcpy(msg + msg_len, line, sizeof line - 1);
        msg_len += sizeof line - 1;
    }
    memcpy(msg + msg_len, ".\r\n", 3);
    msg_len += 3;
    env_len = (size_t)sprintf(env, "%s%s%s", mail, rcpt, data);
    for (run = 0; run < runs; run++) {
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), i;
        char *buf = malloc(msg_len + env_len);
        double t0;
        if (fd < 0 || buf == NULL) die("socket");
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)port);
        if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) die("address");
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        in_len = 0;
        expect(fd, "220");
        put(fd, "EHLO bench\r\n", 12);
        expect(fd, "250");
        t0 = now();
        if (pipe_mode) {
            put(fd, env, env_len);
            expect(fd, "250");
            expect(fd, "250");
            expect(fd, "354");
            for (i = 0; i < count; i++) {
                size_t n = msg_len;
                memcpy(buf, msg, msg_len);
                if (i + 1 < count) {
                    memcpy(buf + n, env, env_len);
                    n += env_len;
                }
                put(fd, buf, n);
                expect(fd, "250");
                if (i + 1 < count) {
                    expect(fd, "250");
                    expect(fd, "250");
                    expect(fd, "354");
                }
            }
        } else {
            for (i = 0; i < count; i++) {
                put(fd, mail, sizeof mail - 1);
                expect(fd, "250");
                put(fd, rcpt, sizeof rcpt - 1);
                expect(fd, "250");
                put(fd, data, sizeof data - 1);
                expect(fd, "354");
                put(fd, msg, msg_len);
                expect(fd, "250");
            }
        }
        rates[run] = count / (now() - t0);
        put(fd, "QUIT\r\n", 6);
        close(fd);
        free(buf);
    }
    qsort(rates, (size_t)runs, sizeof *rates, cmp_double);
    printf("%s\t%g\n", argv[6],
           runs % 2 ? rates[runs / 2] : (rates[runs / 2 - 1] + rates[runs / 2]) / 2);
    free(rates);
    free(msg);
    free(env);
    return 0;
}
