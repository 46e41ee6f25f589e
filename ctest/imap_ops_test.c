/* What the session sends for an operation (imap_ops.h), from the capabilities. */
#include <string.h>

#include "ctest.h"
#include "imap.h"
#include "imap_ops.h"

#define K(s) s, sizeof s - 1

static void test_steps(void)
{
    /* MOVE when offered; else COPY, STORE \Deleted and UID EXPUNGE with UIDPLUS; without
     * UIDPLUS no EXPUNGE at all unless asked (it would remove other clients' messages) */
    CHECK(imap_move_steps(IMAP_CAP_MOVE | IMAP_CAP_UIDPLUS, 1) == IMAP_STEP_MOVE);
    CHECK(imap_move_steps(IMAP_CAP_UIDPLUS, 0)
          == (IMAP_STEP_COPY | IMAP_STEP_STORE_DELETED | IMAP_STEP_UID_EXPUNGE));
    CHECK(imap_move_steps(IMAP_CAP_UIDPLUS, 1)
          == (IMAP_STEP_COPY | IMAP_STEP_STORE_DELETED | IMAP_STEP_UID_EXPUNGE));
    CHECK(imap_move_steps(0, 0) == (IMAP_STEP_COPY | IMAP_STEP_STORE_DELETED));
    CHECK(imap_move_steps(0, 1)
          == (IMAP_STEP_COPY | IMAP_STEP_STORE_DELETED | IMAP_STEP_EXPUNGE));
    CHECK(imap_delete_steps(0, 0) == IMAP_STEP_STORE_DELETED);
    CHECK(imap_delete_steps(IMAP_CAP_UIDPLUS | IMAP_CAP_MOVE, 0)
          == (IMAP_STEP_STORE_DELETED | IMAP_STEP_UID_EXPUNGE));
}

static void test_items(void)
{
    char item[64];
    int binary;
    size_t n;
    CHECK(strcmp(imap_store_item(K("+")), "+FLAGS.SILENT") == 0);
    CHECK(strcmp(imap_store_item(K("=")), "FLAGS.SILENT") == 0);
    CHECK(imap_store_item(K("+ ")) == NULL && imap_store_item(K("")) == NULL);
    CHECK(strcmp(imap_fetch_item(K("headers")), "BODY.PEEK[HEADER]") == 0);
    CHECK(strcmp(imap_fetch_item(K("size")), "RFC822.SIZE") == 0);
    CHECK(imap_fetch_item(K("BODY.PEEK[1]")) == NULL);
    CHECK(imap_part_item(IMAP_CAP_BINARY, K("1.2"), item, sizeof item, &binary) == 0);
    CHECK(binary && strcmp(item, "BINARY.PEEK[1.2]") == 0);
    CHECK(imap_part_item(IMAP_CAP_BINARY, K("HEADER"), item, sizeof item, &binary) == 0);
    CHECK(!binary && strcmp(item, "BODY.PEEK[HEADER]") == 0);
    CHECK(imap_part_item(0, K("1"), item, sizeof item, &binary) == 0);
    CHECK(!binary && strcmp(item, "BODY.PEEK[1]") == 0);
    CHECK(imap_part_item(IMAP_CAP_BINARY, K(""), item, sizeof item, &binary) == 0);
    CHECK(!binary && strcmp(item, "BODY.PEEK[]") == 0);
    CHECK(imap_status_items(0, &n) != NULL && n == 4);
    CHECK(strcmp(imap_status_items(IMAP_CAP_CONDSTORE, &n)[4], "HIGHESTMODSEQ") == 0 && n == 5);
}

static void test_special_names(void)
{
    CHECK(strcmp(imap_special_by_name(K("Sent Items"), '/'), "sent") == 0);
    CHECK(strcmp(imap_special_by_name(K("INBOX.Trash"), '.'), "trash") == 0);
    CHECK(strcmp(imap_special_by_name(K("Deleted Items"), -1), "trash") == 0);
    CHECK(strcmp(imap_special_by_name(K("SPAM"), '/'), "junk") == 0);
    CHECK(imap_special_by_name(K("INBOX.Trash"), '/') == NULL);
    CHECK(imap_special_by_name(K("Sent Items 2"), '/') == NULL);
    CHECK(imap_special_by_name(K(""), '/') == NULL);
    CHECK(imap_special_by_name(K("a/"), '/') == NULL);
}

int main(void)
{
    static const ctest_case cases[] = {
        { "move and delete steps: MOVE, UIDPLUS, never a bare EXPUNGE unasked", test_steps },
        { "STORE, FETCH, part and STATUS items", test_items },
        { "special folders by name without SPECIAL-USE", test_special_names },
        { NULL, NULL }
    };
    return ctest_run("imap_ops", cases);
}
