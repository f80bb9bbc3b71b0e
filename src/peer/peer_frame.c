/*
 * peer_frame.c - the P2P frame parser, typed readers and writers (see
 * peer_frame.h and docs/PROTOCOL.md).  Pure: no I/O, no global state.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "peer_frame.h"

#define PEER_CHANNEL_NAME_MAX 32   /* a tracker channel name */

static const char *const frame_names[PF__COUNT] = {
    [PF_HELLO] = "hello", [PF_WELCOME] = "welcome", [PF_ERROR] = "error",
    [PF_HAVE] = "have", [PF_WANT] = "want", [PF_MSG] = "msg",
    [PF_PING] = "ping", [PF_PONG] = "pong", [PF_BYE] = "bye",
};

const char *peer_frame_type_name(enum peer_frame_type t)
{
    return (unsigned)t < PF__COUNT ? frame_names[t] : "?";
}

static int frame_type_lookup(const char *name, size_t len)
{
    for (int i = 0; i < PF__COUNT; i++)
        if (strlen(frame_names[i]) == len && memcmp(frame_names[i], name, len) == 0)
            return i;
    return -1;
}

static ssize_t frame_bad(struct peer_frame *f, const char *error, const char *detail)
{
    f->error = error;
    f->detail = detail;
    return PEER_FRAME_BAD;
}

ssize_t peer_frame_parse(const char *data, size_t len, struct peer_frame *f)
{
    memset(f, 0, sizeof(*f));
    if (len < PEER_FRAME_HEADER)
        return PEER_FRAME_AGAIN;
    const unsigned char *u = (const unsigned char *)data;
    uint32_t n = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
    if (n == 0 || n > PEER_FRAME_MAX)
        return frame_bad(f, "frame-length", "a frame is 1 to 65536 bytes");
    if (len - PEER_FRAME_HEADER < n)
        return PEER_FRAME_AGAIN;
    struct json_limits lim = { .max_size = PEER_FRAME_MAX, .max_depth = 8 };
    json_doc *doc = json_parse(data + PEER_FRAME_HEADER, n, &lim, NULL);
    if (!doc)
        return frame_bad(f, "bad-json", "the payload is not JSON");
    const json_value *root = json_root(doc);
    size_t tlen;
    const char *t = json_str(json_get(root, "t"), &tlen);
    int type = t ? frame_type_lookup(t, tlen) : -1;
    bool object = json_type(root) == JSON_OBJECT;
    if (!object || type < 0) {
        json_free(doc);
        return object ? frame_bad(f, "unknown-type", "\"t\" names no frame type")
                      : frame_bad(f, "not-object", "the payload must be one JSON object");
    }
    f->type = (enum peer_frame_type)type;
    f->doc = doc;
    f->root = root;
    return (ssize_t)(PEER_FRAME_HEADER + n);
}

/* --- names --- */

bool peer_channel_valid(const char *name)
{
    char other[DB_MAX_NAME + 1];
    if (!name)
        return false;
    if (strncmp(name, "dm:", 3) != 0)
        return db_name_valid(name, PEER_CHANNEL_NAME_MAX, "_-");
    /* dm:A:B with A < B; peer_dm_other checks the shape given one side */
    const char *a = name + 3, *colon = strchr(a, ':');
    if (!colon || (size_t)(colon - a) > DB_MAX_NAME)
        return false;
    char first[DB_MAX_NAME + 1];
    memcpy(first, a, (size_t)(colon - a));
    first[colon - a] = '\0';
    return peer_dm_other(name, first, other);
}

bool peer_dm_other(const char *name, const char *me, char *other)
{
    if (!name || strncmp(name, "dm:", 3) != 0)
        return false;
    const char *a = name + 3, *colon = strchr(a, ':');
    if (!colon)
        return false;
    size_t alen = (size_t)(colon - a);
    const char *b = colon + 1;
    size_t blen = strlen(b);
    if (alen == 0 || alen > DB_MAX_NAME || blen == 0 || blen > DB_MAX_NAME)
        return false;
    char an[DB_MAX_NAME + 1], bn[DB_MAX_NAME + 1];
    memcpy(an, a, alen);
    an[alen] = '\0';
    memcpy(bn, b, blen + 1);
    if (!db_user_name_valid(an) || !db_user_name_valid(bn) || strcmp(an, bn) >= 0)
        return false;
    if (strcmp(me, an) == 0)
        memcpy(other, bn, blen + 1);
    else if (strcmp(me, bn) == 0)
        memcpy(other, an, alen + 1);
    else
        return false;
    return true;
}

void peer_dm_name(const char *a, const char *b, char *out)
{
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    snprintf(out, PEER_CHANNEL_MAX + 1, "dm:%s:%s", a, b);
}

/* --- typed readers --- */

static int why_fail(const char **why, const char *text)
{
    *why = text;
    return -1;
}

/* A string member of 1..max bytes without NUL, or NULL. */
static const char *str_member(const json_value *root, const char *key, size_t max)
{
    size_t n;
    const char *s = json_str(json_get(root, key), &n);
    if (!s || n == 0 || n > max || memchr(s, '\0', n))
        return NULL;
    return s;
}

static bool ticket_valid(const char *t)
{
    if (!t || strlen(t) != PEER_TICKET_HEX)
        return false;
    for (const char *p = t; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

int peer_frame_hello(const struct peer_frame *f, struct pf_hello *h, const char **why)
{
    int64_t v;
    if (json_int(json_get(f->root, "v"), &v) < 0)
        return why_fail(why, "\"v\" must be the protocol version (1)");
    if (v != PEER_PROTO_VERSION)
        return why_fail(why, "unsupported protocol version");
    h->user = str_member(f->root, "user", DB_MAX_NAME);
    if (!h->user || !db_user_name_valid(h->user))
        return why_fail(why, "\"user\" must be a user name");
    h->ticket = json_get_str(f->root, "ticket");
    if (!ticket_valid(h->ticket))
        return why_fail(why, "\"ticket\" must be 64 lower-case hex digits");
    return 0;
}

int peer_frame_error(const struct peer_frame *f, struct pf_error *e, const char **why)
{
    e->code = str_member(f->root, "code", PEER_CODE_MAX);
    if (!e->code)
        return why_fail(why, "\"code\" must be a short string");
    e->detail = str_member(f->root, "detail", PEER_DETAIL_MAX);
    return 0;
}

static int channel_member(const struct peer_frame *f, const char **out, const char **why)
{
    *out = str_member(f->root, "channel", PEER_CHANNEL_MAX);
    if (!*out || !peer_channel_valid(*out))
        return why_fail(why, "\"channel\" must be a channel name or dm:A:B");
    return 0;
}

static int origin_member(const struct peer_frame *f, const char **out, const char **why)
{
    *out = str_member(f->root, "origin", DB_MAX_NAME);
    if (!*out || !db_user_name_valid(*out))
        return why_fail(why, "\"origin\" must be a user name");
    return 0;
}

int peer_frame_want(const struct peer_frame *f, struct pf_want *w, const char **why)
{
    if (channel_member(f, &w->channel, why) < 0 || origin_member(f, &w->origin, why) < 0)
        return -1;
    if (json_int_range(json_get(f->root, "from"), 1, PEER_SEQ_MAX, &w->from) < 0
        || json_int_range(json_get(f->root, "to"), 1, PEER_SEQ_MAX, &w->to) < 0
        || w->to < w->from)
        return why_fail(why, "\"from\" and \"to\" must be sequence numbers, from <= to");
    if (w->to - w->from >= PEER_WANT_MAX)
        return why_fail(why, "a want asks for at most 100000 messages");
    return 0;
}

int peer_frame_msg(const struct peer_frame *f, struct pf_msg *m, const char **why)
{
    if (channel_member(f, &m->channel, why) < 0 || origin_member(f, &m->origin, why) < 0)
        return -1;
    if (json_int_range(json_get(f->root, "seq"), 1, PEER_SEQ_MAX, &m->seq) < 0)
        return why_fail(why, "\"seq\" must be a sequence number (1 and up)");
    if (json_int_range(json_get(f->root, "lamport"), 1, PEER_SEQ_MAX, &m->lamport) < 0)
        return why_fail(why, "\"lamport\" must be a positive integer");
    if (json_int_range(json_get(f->root, "sent_at"), 0, PEER_SEQ_MAX, &m->sent_at) < 0)
        return why_fail(why, "\"sent_at\" must be Unix milliseconds");
    m->text = json_str(json_get(f->root, "text"), &m->text_len);
    if (!m->text || m->text_len == 0 || m->text_len > PEER_TEXT_MAX
        || memchr(m->text, '\0', m->text_len))
        return why_fail(why, "\"text\" must be 1 to 4000 bytes of UTF-8 without NUL");
    return 0;
}

int peer_frame_have(const struct peer_frame *f, struct pf_have *h, const char **why)
{
    if (channel_member(f, &h->channel, why) < 0)
        return -1;
    const json_value *reply = json_get(f->root, "reply");
    h->reply = false;
    if (reply && json_bool(reply, &h->reply) < 0)
        return why_fail(why, "\"reply\" must be true or false");
    h->vector = json_get(f->root, "vector");
    if (json_type(h->vector) != JSON_OBJECT)
        return why_fail(why, "\"vector\" must be an object");
    size_t n = json_len(h->vector);
    if (n > PEER_VECTOR_MAX)
        return why_fail(why, "a vector has at most 10000 origins");
    for (size_t i = 0; i < n; i++) {
        const char *key;
        size_t klen;
        int64_t seq;
        const json_value *v = json_member(h->vector, i, &key, &klen);
        if (klen > DB_MAX_NAME || strlen(key) != klen || !db_user_name_valid(key)
            || json_int_range(v, 0, PEER_SEQ_MAX, &seq) < 0)
            return why_fail(why, "a vector maps user names to sequence numbers");
    }
    return 0;
}

/* --- writers --- */

/* Reserves the length prefix and starts the object with "t". */
static void frame_begin(json_writer *w, buf *out, size_t *mark, enum peer_frame_type t)
{
    *mark = buf_len(out);
    json_w_init(w, out);
    if (buf_append(out, "\0\0\0\0", PEER_FRAME_HEADER) < 0)
        w->err = ENOBUFS;
    json_w_begin_object(w);
    json_w_key(w, "t");
    json_w_string(w, frame_names[t]);
}

/* Closes the object and writes the length; on any failure out goes back
 * to its length at the mark. */
static int frame_end(json_writer *w, buf *out, size_t mark)
{
    json_w_end_object(w);
    if (json_w_finish(w) < 0) {
        buf_truncate(out, mark);
        return errno = ENOBUFS, -1;
    }
    size_t n = buf_len(out) - mark - PEER_FRAME_HEADER;
    if (n > PEER_FRAME_MAX) {
        buf_truncate(out, mark);
        return errno = ENOBUFS, -1;
    }
    unsigned char *p = (unsigned char *)buf_ptr(out) + mark;
    p[0] = (unsigned char)(n >> 24);
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
    return 0;
}

int peer_frame_put_hello(buf *out, enum peer_frame_type t, const char *user,
                         const char *ticket)
{
    json_writer w;
    size_t mark;
    frame_begin(&w, out, &mark, t);
    json_w_key(&w, "v");
    json_w_int(&w, PEER_PROTO_VERSION);
    json_w_key(&w, "user");
    json_w_string(&w, user);
    json_w_key(&w, "ticket");
    json_w_string(&w, ticket);
    return frame_end(&w, out, mark);
}

int peer_frame_put_error(buf *out, const char *code, const char *detail)
{
    json_writer w;
    size_t mark;
    frame_begin(&w, out, &mark, PF_ERROR);
    json_w_key(&w, "code");
    json_w_string(&w, code);
    if (detail) {
        json_w_key(&w, "detail");
        json_w_string_n(&w, detail, strnlen(detail, PEER_DETAIL_MAX));
    }
    return frame_end(&w, out, mark);
}

int peer_frame_put_msg(buf *out, const struct pf_msg *m)
{
    json_writer w;
    size_t mark;
    frame_begin(&w, out, &mark, PF_MSG);
    json_w_key(&w, "channel");
    json_w_string(&w, m->channel);
    json_w_key(&w, "origin");
    json_w_string(&w, m->origin);
    json_w_key(&w, "seq");
    json_w_int(&w, m->seq);
    json_w_key(&w, "lamport");
    json_w_int(&w, m->lamport);
    json_w_key(&w, "sent_at");
    json_w_int(&w, m->sent_at);
    json_w_key(&w, "text");
    json_w_string_n(&w, m->text, m->text_len);
    return frame_end(&w, out, mark);
}

int peer_frame_put_want(buf *out, const struct pf_want *wt)
{
    json_writer w;
    size_t mark;
    frame_begin(&w, out, &mark, PF_WANT);
    json_w_key(&w, "channel");
    json_w_string(&w, wt->channel);
    json_w_key(&w, "origin");
    json_w_string(&w, wt->origin);
    json_w_key(&w, "from");
    json_w_int(&w, wt->from);
    json_w_key(&w, "to");
    json_w_int(&w, wt->to);
    return frame_end(&w, out, mark);
}

int peer_frame_put_bare(buf *out, enum peer_frame_type t)
{
    json_writer w;
    size_t mark;
    frame_begin(&w, out, &mark, t);
    return frame_end(&w, out, mark);
}

void peer_frame_have_begin(struct pf_have_writer *hw, buf *out, const char *channel,
                           bool reply)
{
    hw->out = out;
    frame_begin(&hw->w, out, &hw->mark, PF_HAVE);
    json_w_key(&hw->w, "channel");
    json_w_string(&hw->w, channel);
    if (reply) {
        json_w_key(&hw->w, "reply");
        json_w_bool(&hw->w, true);
    }
    json_w_key(&hw->w, "vector");
    json_w_begin_object(&hw->w);
}

void peer_frame_have_add(struct pf_have_writer *hw, const char *origin, int64_t seq)
{
    json_w_key(&hw->w, origin);
    json_w_int(&hw->w, seq);
}

int peer_frame_have_end(struct pf_have_writer *hw)
{
    json_w_end_object(&hw->w);
    return frame_end(&hw->w, hw->out, hw->mark);
}
