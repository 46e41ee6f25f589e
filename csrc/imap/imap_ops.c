/* What to send for an operation, from the capabilities (imap_ops.h). */
#include "imap_ops.h"
#include "imap.h"

#include <stdio.h>
#include <string.h>

unsigned imap_move_steps(unsigned caps, int expunge_all)
{
    if (caps & IMAP_CAP_MOVE) return IMAP_STEP_MOVE;
    return IMAP_STEP_COPY | imap_delete_steps(caps, expunge_all);
}

unsigned imap_delete_steps(unsigned caps, int expunge_all)
{
    if (caps & IMAP_CAP_UIDPLUS) return IMAP_STEP_STORE_DELETED | IMAP_STEP_UID_EXPUNGE;
    return IMAP_STEP_STORE_DELETED | (expunge_all ? IMAP_STEP_EXPUNGE : 0);
}

static int is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

const char *imap_store_item(const char *op, size_t n)
{
    if (is(op, n, "+")) return "+FLAGS.SILENT";
    if (is(op, n, "-")) return "-FLAGS.SILENT";
    if (is(op, n, "=")) return "FLAGS.SILENT";
    return NULL;
}

const char *imap_fetch_item(const char *name, size_t n)
{
    static const char *const items[][2] = {
        { "uid", "UID" }, { "flags", "FLAGS" }, { "envelope", "ENVELOPE" },
        { "bodystructure", "BODYSTRUCTURE" }, { "size", "RFC822.SIZE" },
        { "internal_date", "INTERNALDATE" }, { "modseq", "MODSEQ" },
        { "headers", "BODY.PEEK[HEADER]" }, { "body", "BODY.PEEK[]" },
        { "text", "BODY.PEEK[TEXT]" },
    };
    size_t i;
    for (i = 0; i < sizeof items / sizeof items[0]; i++)
        if (is(name, n, items[i][0])) return items[i][1];
    return NULL;
}

int imap_part_item(unsigned caps, const char *section, size_t n, char *out, size_t cap,
                   int *binary)
{
    size_t i;
    int numbered = n > 0;
    for (i = 0; i < n; i++)
        if (!((section[i] >= '0' && section[i] <= '9') || section[i] == '.')) numbered = 0;
    *binary = numbered && (caps & IMAP_CAP_BINARY) != 0;
    if (n > cap || cap - n < 16) return -1;
    snprintf(out, cap, "%s[%.*s]", *binary ? "BINARY.PEEK" : "BODY.PEEK", (int)n, section);
    return 0;
}

const char *const *imap_status_items(unsigned caps, size_t *n)
{
    static const char *const items[] = { "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
                                         "HIGHESTMODSEQ" };
    *n = (caps & IMAP_CAP_CONDSTORE) ? 5 : 4;
    return items;
}

const char *imap_special_by_name(const char *name, size_t n, int delim)
{
    /* names servers give special folders: Gmail's, Outlook's, Thunderbird's, Apple's */
    static const char *const names[][2] = {
        { "sent", "sent" }, { "sent items", "sent" }, { "sent messages", "sent" },
        { "sent mail", "sent" }, { "trash", "trash" }, { "deleted items", "trash" },
        { "deleted messages", "trash" }, { "bin", "trash" }, { "drafts", "drafts" },
        { "draft", "drafts" }, { "junk", "junk" }, { "spam", "junk" },
        { "junk e-mail", "junk" }, { "junk email", "junk" }, { "archive", "archive" },
        { "archives", "archive" },
    };
    size_t i, k, start = 0;
    if (delim >= 0)
        for (i = 0; i < n; i++)
            if ((unsigned char)name[i] == (unsigned)delim) start = i + 1;
    name += start;
    n -= start;
    for (k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *w = names[k][0];
        if (strlen(w) != n) continue;
        for (i = 0; i < n; i++) {
            char c = name[i];
            if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
            if (c != w[i]) break;
        }
        if (i == n) return names[k][1];
    }
    return NULL;
}
