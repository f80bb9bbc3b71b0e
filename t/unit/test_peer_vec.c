/*
 * test_peer_vec.c - version vector arithmetic (src/peer/peer_vec.c): sorted
 * insertion, lookups, what one side lacks (ranges, the dm filter, a
 * callback that stops the walk), the caps, and reading a have vector.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "peer/peer_vec.h"
#include "tap.h"

struct collected {
    char text[512];
    int calls;
    int stop_after;
};

static int collect(const char *origin, int64_t from, int64_t to, void *arg)
{
    struct collected *c = arg;
    size_t n = strlen(c->text);
    snprintf(c->text + n, sizeof(c->text) - n, "%s%s:%lld-%lld", n ? " " : "", origin,
             (long long)from, (long long)to);
    return ++c->calls == c->stop_after ? 7 : 0;
}

int main(void)
{
    struct peer_vec mine = { 0 }, theirs = { 0 };
    ok(peer_vec_set(&mine, "carol", 5, 9) == 0 && peer_vec_set(&mine, "alice", 12, 12) == 0
       && peer_vec_set(&mine, "bob", 3, 3) == 0, "three origins set out of order");
    ok(mine.n == 3 && strcmp(mine.e[0].origin, "alice") == 0 && strcmp(mine.e[2].origin, "carol") == 0,
       "kept sorted by origin");
    ok(peer_vec_set(&mine, "bob", 4, 6) == 0 && mine.n == 3 && peer_vec_contig(&mine, "bob") == 4,
       "setting again replaces");
    is_int(peer_vec_contig(&mine, "dave"), 0, "absent origin: 0");
    ok(peer_vec_set(&mine, "x", 5, 4) < 0 && errno == EINVAL, "max below contig refused");
    ok(peer_vec_set(&mine, "x", -1, 4) < 0 && errno == EINVAL, "negative contig refused");
    ok(peer_vec_set(&mine, "bad name", 1, 1) < 0 && errno == EINVAL, "bad origin name refused");

    /* they have nothing: everything of mine, whole ranges */
    struct collected c = { "", 0, 0 };
    is_int(peer_vec_missing(&mine, &theirs, NULL, collect, &c), 0, "walk completes");
    is_str(c.text, "alice:1-12 bob:1-6 carol:1-9", "nothing on their side: all of mine");

    /* they have some: the rest from their contiguous + 1 to my max */
    peer_vec_set(&theirs, "alice", 12, 12);
    peer_vec_set(&theirs, "bob", 2, 2);
    peer_vec_set(&theirs, "carol", 20, 20);
    peer_vec_set(&theirs, "zed", 4, 4);
    memset(&c, 0, sizeof(c));
    peer_vec_missing(&mine, &theirs, NULL, collect, &c);
    is_str(c.text, "bob:3-6", "only what they lack (alice equal, carol ahead, zed unknown to me)");

    /* the reverse: what they hold beyond mine */
    memset(&c, 0, sizeof(c));
    peer_vec_missing(&theirs, &mine, NULL, collect, &c);
    is_str(c.text, "carol:6-20 zed:1-4",
           "the reverse: from what the other reports as contiguous (5: 6..9 is a gap)");

    /* dm filter: only one origin */
    memset(&c, 0, sizeof(c));
    peer_vec_clear(&theirs);
    peer_vec_missing(&mine, &theirs, "carol", collect, &c);
    is_str(c.text, "carol:1-9", "filter: one origin only");

    /* a callback's non-zero return stops the walk and is returned */
    memset(&c, 0, sizeof(c));
    c.stop_after = 1;
    is_int(peer_vec_missing(&mine, &theirs, NULL, collect, &c), 7, "stop value returned");
    is_int(c.calls, 1, "stopped after one range");

    /* from a have frame's vector */
    const char *vec = "{\"bob\":3,\"alice\":0}";
    json_doc *d = json_parse(vec, strlen(vec), NULL, NULL);
    ok(peer_vec_from_json(&theirs, json_root(d)) == 0 && theirs.n == 2
       && peer_vec_contig(&theirs, "bob") == 3 && peer_vec_find(&theirs, "alice")->max == 0,
       "read from JSON (sorted, contig = max)");
    json_free(d);

    /* the cap */
    struct peer_vec big = { 0 };
    int okset = 1;
    char name[16];
    for (int i = 0; i < PEER_VEC_MAX && okset; i++) {
        snprintf(name, sizeof(name), "u%05d", i);
        okset = peer_vec_set(&big, name, 1, 1) == 0;
    }
    ok(okset && big.n == PEER_VEC_MAX, "%d origins fit", PEER_VEC_MAX);
    ok(peer_vec_set(&big, "zzz", 1, 1) < 0 && errno == ENOSPC, "one more: ENOSPC");
    ok(peer_vec_set(&big, "u00000", 2, 2) == 0, "an existing one can still change");
    is_int(peer_vec_merge(5, 3), 5, "merge never goes back");
    is_int(peer_vec_merge(5, 8), 8, "merge moves forward");

    peer_vec_free(&big);
    peer_vec_free(&mine);
    peer_vec_free(&theirs);
    ok(mine.e == NULL && mine.n == 0, "free clears");
    return done_testing();
}
