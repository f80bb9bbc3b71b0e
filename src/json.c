/* json.c - JSON reader into an arena DOM.  See weaprous/json.h. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weaprous/json.h"
#include "weaprous/utf8.h"

#define JSON_ARENA_FIRST  4096        /* bytes of the first arena chunk */
#define JSON_ARENA_MAXGROW (256u << 10) /* chunks grow by doubling up to this */

struct json_member {
    const char *key;
    size_t      klen;
    json_value *value;
};

struct json_value {
    enum json_type type;
    union {
        bool b;
        struct { double d; int64_t i; bool exact; } num;
        struct { const char *s; size_t len; } str;
        struct { json_value **items; size_t n; } arr;
        struct { struct json_member *m; size_t n; } obj;
    } u;
};

/* One arena chunk; the payload follows, aligned for any type. */
struct json_chunk {
    struct json_chunk *next;
    size_t size, used;
    max_align_t data[];
};

struct json_doc {
    struct json_chunk *chunks;   /* the chunk holding this doc is among them */
    json_value *root;
};

/* Parser state: input, position, limits, arena, and a scratch stack on
 * which the children of the open arrays/objects gather until they close. */
struct json_parser {
    const unsigned char *s;
    size_t n, pos;
    unsigned depth, max_depth;
    struct json_chunk *chunks;
    size_t next_chunk;
    struct json_member *stack;
    size_t sp, scap;
    const char *err;
    size_t err_pos;
    bool oom;
};

/* --- arena --- */

static void *arena_alloc(struct json_parser *p, size_t n)
{
    size_t a = _Alignof(max_align_t);
    n = (n + a - 1) / a * a;
    struct json_chunk *c = p->chunks;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > p->next_chunk ? n : p->next_chunk;
        c = malloc(sizeof(*c) + size);
        if (c == NULL) {
            p->oom = true;
            return NULL;
        }
        c->size = size;
        c->used = 0;
        c->next = p->chunks;
        p->chunks = c;
        if (p->next_chunk < JSON_ARENA_MAXGROW)
            p->next_chunk *= 2;
    }
    void *r = (unsigned char *)c->data + c->used;
    c->used += n;
    return r;
}

static void arena_release(struct json_chunk *c)
{
    while (c) {
        struct json_chunk *next = c->next;
        free(c);
        c = next;
    }
}

/* --- errors --- */

/* Records the first error only: inner failures are the precise ones. */
static void *fail(struct json_parser *p, size_t pos, const char *msg)
{
    if (p->err == NULL) {
        p->err = msg;
        p->err_pos = pos;
    }
    return NULL;
}

static void *fail_oom(struct json_parser *p)
{
    p->oom = true;
    return fail(p, p->pos, "out of memory");
}

static void error_locate(const unsigned char *s, size_t n, size_t off,
                         struct json_error *e)
{
    size_t line = 1, start = 0;
    if (off > n)
        off = n;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            line++;
            start = i + 1;
        }
    }
    e->offset = off;
    e->line = line > UINT32_MAX ? UINT32_MAX : (unsigned)line;
    e->column = (unsigned)(off - start + 1);
}

char *json_error_text(const struct json_error *e, char *out, size_t size)
{
    snprintf(out, size, "line %u, column %u: %s", e->line, e->column,
             e->msg ? e->msg : "no error");
    return out;
}

/* --- lexical helpers --- */

static void skip_ws(struct json_parser *p)
{
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static json_value *new_value(struct json_parser *p, enum json_type t)
{
    json_value *v = arena_alloc(p, sizeof(*v));
    if (v == NULL)
        return fail_oom(p);
    memset(v, 0, sizeof(*v));
    v->type = t;
    return v;
}

static json_value *parse_literal(struct json_parser *p)
{
    static const struct { const char *word; enum json_type t; bool b; } lits[] = {
        { "true", JSON_BOOL, true }, { "false", JSON_BOOL, false },
        { "null", JSON_NULL, false },
    };
    for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
        size_t len = strlen(lits[i].word);
        if (p->n - p->pos >= len && memcmp(p->s + p->pos, lits[i].word, len) == 0) {
            json_value *v = new_value(p, lits[i].t);
            if (v == NULL)
                return NULL;
            v->u.b = lits[i].b;
            p->pos += len;
            return v;
        }
    }
    return fail(p, p->pos, "invalid literal");
}

/* --- strings --- */

static int hex4(const unsigned char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Decodes the \u escape at p->pos (pointing after "\u"), joining a
 * surrogate pair; appends UTF-8 at *d.  Returns 0 or -1 (error set). */
static int decode_u(struct json_parser *p, char **d)
{
    size_t at = p->pos - 2;
    uint32_t cp, lo;
    if (p->n - p->pos < 4 || hex4(p->s + p->pos, &cp) < 0)
        return fail(p, at, "invalid \\u escape"), -1;
    p->pos += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(p, at, "lone low surrogate"), -1;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->n - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u'
            || hex4(p->s + p->pos + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
            return fail(p, at, "lone high surrogate"), -1;
        p->pos += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *d += utf8_encode(cp, *d);
    return 0;
}

static int decode_escape(struct json_parser *p, char **d)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t at = p->pos;
    if (p->pos + 1 >= p->n)
        return fail(p, at, "unterminated string"), -1;
    unsigned char c = p->s[p->pos + 1];
    p->pos += 2;
    if (c == 'u')
        return decode_u(p, d);
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit == NULL)
        return fail(p, at, "invalid escape"), -1;
    *(*d)++ = to[hit - from];
    return 0;
}

/* Finds the closing quote of the string whose body starts at pos; returns
 * its offset or n.  Escaped quotes are skipped; validity is checked later.
 * One linear pass: hostile input full of escapes stays O(n). */
static size_t string_end(const unsigned char *s, size_t n, size_t pos)
{
    while (pos < n && s[pos] != '"')
        pos += s[pos] == '\\' ? 2 : 1;
    return pos < n ? pos : n;
}

/* Parses a string at p->pos (the opening quote) into the arena.  The
 * decoded text is never longer than the raw text, which sizes the copy. */
static int parse_string(struct json_parser *p, const char **out, size_t *len)
{
    size_t start = p->pos, end = string_end(p->s, p->n, p->pos + 1);
    if (end >= p->n)
        return fail(p, start, "unterminated string"), -1;
    char *text = arena_alloc(p, end - start);
    if (text == NULL)
        return fail_oom(p), -1;
    char *d = text;
    struct utf8_state st = {0};
    p->pos++;
    while (p->pos < end) {
        unsigned char c = p->s[p->pos];
        if (c == '\\' && st.need == 0) {
            if (decode_escape(p, &d) < 0)
                return -1;
            continue;
        }
        if (c < 0x20)
            return fail(p, p->pos, "control character in string"), -1;
        if (c >= 0x80 || st.need) {
            if (utf8_feed(&st, &c, 1) == UTF8_INVALID)
                return fail(p, p->pos, "invalid UTF-8"), -1;
        }
        *d++ = (char)c;
        p->pos++;
    }
    if (st.need)
        return fail(p, p->pos, "invalid UTF-8"), -1;
    *d = '\0';
    p->pos = end + 1;
    *out = text;
    *len = (size_t)(d - text);
    return 0;
}

/* --- numbers --- */

static size_t scan_digits(const unsigned char *s, size_t n, size_t pos)
{
    while (pos < n && s[pos] >= '0' && s[pos] <= '9')
        pos++;
    return pos;
}

/* The grammar of RFC 8259 6; sets the spans of the integer part, fraction
 * and exponent.  Returns the end offset, or 0 (error set). */
struct num_spans { size_t int_a, int_b, frac_a, frac_b, exp_a, exp_b; bool neg; };

static size_t scan_number(struct json_parser *p, struct num_spans *ns)
{
    const unsigned char *s = p->s;
    size_t i = p->pos, n = p->n;
    memset(ns, 0, sizeof(*ns));
    if (s[i] == '-') {
        ns->neg = true;
        i++;
    }
    ns->int_a = i;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return fail(p, i, "invalid number"), 0;
    if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
        return fail(p, i, "leading zeros are not allowed"), 0;
    i = ns->int_b = scan_digits(s, n, i);
    if (i < n && s[i] == '.') {
        ns->frac_a = i + 1;
        i = ns->frac_b = scan_digits(s, n, i + 1);
        if (i == ns->frac_a)
            return fail(p, i, "digit expected after '.'"), 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        ns->exp_a = i;
        i = ns->exp_b = scan_digits(s, n, i);
        if (i == ns->exp_a)
            return fail(p, i, "digit expected in exponent"), 0;
    }
    return i;
}

/* Exact integer value of the number, if it is one that fits int64:
 * value = digits(int . frac) * 10^(exp - |frac|), trailing zeros folded
 * into the exponent.  Returns true and sets *out when exact. */
static bool exact_int(const unsigned char *s, const struct num_spans *ns,
                      int64_t *out)
{
    char dig[JSON_MAX_NUMBER_LEN];
    size_t nd = 0;
    long scale = 0;
    for (size_t i = ns->int_a; i < ns->int_b; i++)
        dig[nd++] = (char)s[i];
    for (size_t i = ns->frac_a; i < ns->frac_b; i++, scale--)
        dig[nd++] = (char)s[i];
    if (ns->exp_a) {
        long e = 0;
        for (size_t i = ns->exp_a; i < ns->exp_b && e < 100000; i++)
            e = e * 10 + (s[i] - '0');
        scale += s[ns->exp_a - 1] == '-' ? -e : e;
    }
    size_t lead = 0;
    while (lead < nd && dig[lead] == '0')
        lead++;
    while (nd > lead && dig[nd - 1] == '0') {
        nd--;
        scale++;
    }
    if (nd == lead) {
        *out = 0;
        return true;
    }
    if (scale < 0 || (long)(nd - lead) + scale > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = lead; i < nd; i++)
        v = v * 10 + (uint64_t)(dig[i] - '0');    /* < 10^19: no overflow */
    for (long k = 0; k < scale; k++) {
        if (v > UINT64_MAX / 10)
            return false;
        v *= 10;
    }
    if (v > (uint64_t)INT64_MAX + (ns->neg ? 1u : 0u))
        return false;
    *out = ns->neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* strtod() in the C locale's terms: the token uses '.', the current locale
 * may not, so the point is swapped for the locale's before converting. */
static double to_double(const char *tok, size_t len)
{
    char tmp[JSON_MAX_NUMBER_LEN * 4 + 8];
    const char *dp = localeconv()->decimal_point;
    size_t dpl = dp && dp[0] ? strlen(dp) : 0, o = 0;
    if (dpl == 0 || dpl > 4) {
        dp = ".";
        dpl = 1;
    }
    for (size_t i = 0; i < len; i++) {
        if (tok[i] == '.') {
            memcpy(tmp + o, dp, dpl);
            o += dpl;
        } else {
            tmp[o++] = tok[i];
        }
    }
    tmp[o] = '\0';
    return strtod(tmp, NULL);
}

static json_value *parse_number(struct json_parser *p)
{
    struct num_spans ns;
    size_t start = p->pos, end = scan_number(p, &ns);
    if (end == 0)
        return NULL;
    if (end - start > JSON_MAX_NUMBER_LEN)
        return fail(p, start, "number too long");
    json_value *v = new_value(p, JSON_NUMBER);
    if (v == NULL)
        return NULL;
    v->u.num.d = to_double((const char *)p->s + start, end - start);
    if (isinf(v->u.num.d))
        return fail(p, start, "number out of range");
    v->u.num.exact = exact_int(p->s, &ns, &v->u.num.i);
    p->pos = end;
    return v;
}

/* --- containers --- */

static int stack_push(struct json_parser *p, const char *key, size_t klen,
                      json_value *v)
{
    if (p->sp == p->scap) {
        size_t ncap = p->scap ? p->scap * 2 : 64;
        struct json_member *ns = realloc(p->stack, ncap * sizeof(*ns));
        if (ns == NULL)
            return fail_oom(p), -1;
        p->stack = ns;
        p->scap = ncap;
    }
    p->stack[p->sp++] = (struct json_member){ key, klen, v };
    return 0;
}

static json_value *parse_value(struct json_parser *p);

/* Moves the children gathered since `base` into the arena. */
static json_value *close_container(struct json_parser *p, json_value *v,
                                   size_t base)
{
    size_t cnt = p->sp - base;
    p->depth--;
    if (v->type == JSON_ARRAY) {
        v->u.arr.n = cnt;
        v->u.arr.items = cnt ? arena_alloc(p, cnt * sizeof(json_value *)) : NULL;
        if (cnt && v->u.arr.items == NULL)
            return fail_oom(p);
        for (size_t i = 0; i < cnt; i++)
            v->u.arr.items[i] = p->stack[base + i].value;
    } else {
        v->u.obj.n = cnt;
        v->u.obj.m = cnt ? arena_alloc(p, cnt * sizeof(struct json_member)) : NULL;
        if (cnt && v->u.obj.m == NULL)
            return fail_oom(p);
        if (cnt)
            memcpy(v->u.obj.m, p->stack + base, cnt * sizeof(struct json_member));
    }
    p->sp = base;
    p->pos++;
    return v;
}

/* One member "key": value of an object, pushed on the stack. */
static int parse_member(struct json_parser *p)
{
    const char *key;
    size_t klen;
    if (p->pos >= p->n || p->s[p->pos] != '"')
        return fail(p, p->pos, p->pos >= p->n ? "unexpected end of input"
                                              : "expected a string key"), -1;
    if (parse_string(p, &key, &klen) < 0)
        return -1;
    skip_ws(p);
    if (p->pos >= p->n || p->s[p->pos] != ':')
        return fail(p, p->pos, "expected ':'"), -1;
    p->pos++;
    json_value *v = parse_value(p);
    return v ? stack_push(p, key, klen, v) : -1;
}

/* Arrays and objects: open char at p->pos; children separated by commas,
 * no trailing comma. */
static json_value *parse_container(struct json_parser *p, enum json_type t)
{
    char close = t == JSON_ARRAY ? ']' : '}';
    if (++p->depth > p->max_depth)
        return fail(p, p->pos, "nesting too deep");
    json_value *v = new_value(p, t);
    size_t base = p->sp;
    if (v == NULL)
        return NULL;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close)
        return close_container(p, v, base);
    for (;;) {
        if (t == JSON_ARRAY) {
            json_value *item = parse_value(p);
            if (item == NULL || stack_push(p, NULL, 0, item) < 0)
                return NULL;
        } else {
            skip_ws(p);
            if (parse_member(p) < 0)
                return NULL;
        }
        skip_ws(p);
        if (p->pos >= p->n)
            return fail(p, p->pos, "unexpected end of input");
        if (p->s[p->pos] == close)
            return close_container(p, v, base);
        if (p->s[p->pos] != ',')
            return fail(p, p->pos, t == JSON_ARRAY ? "expected ',' or ']'"
                                                   : "expected ',' or '}'");
        p->pos++;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == close)
            return fail(p, p->pos, "trailing comma");
    }
}

static json_value *parse_value(struct json_parser *p)
{
    skip_ws(p);
    if (p->pos >= p->n)
        return fail(p, p->pos, "unexpected end of input");
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_container(p, JSON_OBJECT);
    case '[': return parse_container(p, JSON_ARRAY);
    case 't': case 'f': case 'n': return parse_literal(p);
    case '"': {
        json_value *v = new_value(p, JSON_STRING);
        if (v == NULL || parse_string(p, &v->u.str.s, &v->u.str.len) < 0)
            return NULL;
        return v;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(p);
        return fail(p, p->pos, "unexpected character");
    }
}

json_doc *json_parse(const char *s, size_t n, const struct json_limits *lim,
                     struct json_error *err)
{
    struct json_parser p = { .s = (const unsigned char *)s, .n = n,
                             .next_chunk = JSON_ARENA_FIRST,
                             .max_depth = JSON_DEFAULT_MAX_DEPTH };
    size_t max_size = lim && lim->max_size ? lim->max_size : JSON_DEFAULT_MAX_SIZE;
    if (lim && lim->max_depth)
        p.max_depth = lim->max_depth < JSON_MAX_DEPTH ? lim->max_depth : JSON_MAX_DEPTH;
    json_doc *d = NULL;
    if (n > max_size) {
        fail(&p, max_size, "document too large");
    } else if ((d = arena_alloc(&p, sizeof(*d))) == NULL) {
        fail_oom(&p);
    } else if ((d->root = parse_value(&p)) != NULL) {
        skip_ws(&p);
        if (p.pos < n)
            fail(&p, p.pos, "unexpected data after the value");
    }
    free(p.stack);
    if (p.err == NULL) {
        d->chunks = p.chunks;
        return d;
    }
    arena_release(p.chunks);
    if (err) {
        error_locate(p.s, n, p.err_pos, err);
        err->msg = p.err;
    }
    errno = p.oom ? ENOMEM : EINVAL;
    return NULL;
}

void json_free(json_doc *d)
{
    if (d)
        arena_release(d->chunks);
}

const json_value *json_root(const json_doc *d)
{
    return d ? d->root : NULL;
}

/* --- accessors --- */

enum json_type json_type(const json_value *v)
{
    return v ? v->type : JSON_NONE;
}

const char *json_type_name(enum json_type t)
{
    static const char *const names[] = {
        [JSON_NONE] = "none", [JSON_NULL] = "null", [JSON_BOOL] = "boolean",
        [JSON_NUMBER] = "number", [JSON_STRING] = "string",
        [JSON_ARRAY] = "array", [JSON_OBJECT] = "object",
    };
    return (unsigned)t <= JSON_OBJECT ? names[t] : "none";
}

const json_value *json_get_n(const json_value *obj, const char *key, size_t klen)
{
    if (obj == NULL || obj->type != JSON_OBJECT || key == NULL)
        return NULL;
    /* From the end: the last duplicate wins. */
    for (size_t i = obj->u.obj.n; i-- > 0;) {
        const struct json_member *m = &obj->u.obj.m[i];
        if (m->klen == klen && memcmp(m->key, key, klen) == 0)
            return m->value;
    }
    return NULL;
}

const json_value *json_get(const json_value *obj, const char *key)
{
    return key ? json_get_n(obj, key, strlen(key)) : NULL;
}

const json_value *json_index(const json_value *arr, size_t i)
{
    if (arr == NULL || arr->type != JSON_ARRAY || i >= arr->u.arr.n)
        return NULL;
    return arr->u.arr.items[i];
}

size_t json_len(const json_value *v)
{
    switch (json_type(v)) {
    case JSON_ARRAY:  return v->u.arr.n;
    case JSON_OBJECT: return v->u.obj.n;
    case JSON_STRING: return v->u.str.len;
    default:          return 0;
    }
}

const json_value *json_member(const json_value *obj, size_t i,
                              const char **key, size_t *klen)
{
    if (obj == NULL || obj->type != JSON_OBJECT || i >= obj->u.obj.n)
        return NULL;
    if (key)
        *key = obj->u.obj.m[i].key;
    if (klen)
        *klen = obj->u.obj.m[i].klen;
    return obj->u.obj.m[i].value;
}

const char *json_str(const json_value *v, size_t *len)
{
    if (v == NULL || v->type != JSON_STRING)
        return NULL;
    if (len) {
        *len = v->u.str.len;
        return v->u.str.s;
    }
    /* Refuse to hand a C-string caller a string cut short by a NUL. */
    if (memchr(v->u.str.s, '\0', v->u.str.len))
        return NULL;
    return v->u.str.s;
}

const char *json_get_str(const json_value *obj, const char *key)
{
    return json_str(json_get(obj, key), NULL);
}

int json_int(const json_value *v, int64_t *out)
{
    return json_int_range(v, INT64_MIN, INT64_MAX, out);
}

int json_int_range(const json_value *v, int64_t min, int64_t max, int64_t *out)
{
    if (v == NULL || v->type != JSON_NUMBER || !v->u.num.exact)
        return -1;
    if (v->u.num.i < min || v->u.num.i > max)
        return -1;
    *out = v->u.num.i;
    return 0;
}

int json_double(const json_value *v, double *out)
{
    if (v == NULL || v->type != JSON_NUMBER)
        return -1;
    *out = v->u.num.d;
    return 0;
}

int json_bool(const json_value *v, bool *out)
{
    if (v == NULL || v->type != JSON_BOOL)
        return -1;
    *out = v->u.b;
    return 0;
}

bool json_is_null(const json_value *v)
{
    return v && v->type == JSON_NULL;
}

static bool number_equal(const json_value *a, const json_value *b)
{
    /* Integers compare exactly (doubles lose precision past 2^53). */
    if (a->u.num.exact && b->u.num.exact)
        return a->u.num.i == b->u.num.i;
    return a->u.num.d == b->u.num.d;
}

bool json_equal(const json_value *a, const json_value *b)
{
    if (a == NULL || b == NULL || a->type != b->type)
        return a == b;
    switch (a->type) {
    case JSON_BOOL:   return a->u.b == b->u.b;
    case JSON_NUMBER: return number_equal(a, b);
    case JSON_STRING:
        return a->u.str.len == b->u.str.len
            && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case JSON_ARRAY:
        if (a->u.arr.n != b->u.arr.n)
            return false;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!json_equal(a->u.arr.items[i], b->u.arr.items[i]))
                return false;
        return true;
    case JSON_OBJECT:
        if (a->u.obj.n != b->u.obj.n)
            return false;
        for (size_t i = 0; i < a->u.obj.n; i++) {
            const struct json_member *x = &a->u.obj.m[i], *y = &b->u.obj.m[i];
            if (x->klen != y->klen || memcmp(x->key, y->key, x->klen) != 0
                || !json_equal(x->value, y->value))
                return false;
        }
        return true;
    default:
        return true;
    }
}

/* --- writer --- */

static void w_fail(json_writer *w, int err, const char *msg)
{
    if (w->err == 0) {
        w->err = err;
        w->errmsg = msg;
    }
}

static void w_put(json_writer *w, const void *p, size_t n)
{
    if (w->err == 0 && buf_append(w->out, p, n) < 0)
        w_fail(w, errno ? errno : ENOBUFS, "output buffer full");
}

void json_w_init(json_writer *w, buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

/* Before every value: checks that a value may stand here, writes the comma
 * that separates it from its predecessor.  False when it must not be
 * written (the error is recorded). */
static bool w_value_begin(json_writer *w)
{
    if (w->err)
        return false;
    if (w->depth == 0) {
        if (w->done)
            w_fail(w, EINVAL, "more than one top-level value");
        return w->err == 0;
    }
    unsigned lvl = w->depth - 1;
    if (w->kind[lvl] == '{') {
        if (!w->after_key)
            w_fail(w, EINVAL, "object member without a key");
        w->after_key = false;
        return w->err == 0;
    }
    if (w->used[lvl])
        w_put(w, ",", 1);
    w->used[lvl] = 1;
    return w->err == 0;
}

static void w_value_end(json_writer *w)
{
    if (w->depth == 0)
        w->done = true;
}

static void w_open(json_writer *w, char c)
{
    if (!w_value_begin(w))
        return;
    if (w->depth >= JSON_MAX_DEPTH) {
        w_fail(w, EINVAL, "nesting too deep");
        return;
    }
    w_put(w, &c, 1);
    w->kind[w->depth] = (unsigned char)c;
    w->used[w->depth] = 0;
    w->depth++;
}

static void w_close(json_writer *w, char open, char close)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->kind[w->depth - 1] != (unsigned char)open || w->after_key) {
        w_fail(w, EINVAL, open == '{' ? "unbalanced end of object"
                                      : "unbalanced end of array");
        return;
    }
    w_put(w, &close, 1);
    w->depth--;
    w_value_end(w);
}

void json_w_begin_object(json_writer *w) { w_open(w, '{'); }
void json_w_end_object(json_writer *w)   { w_close(w, '{', '}'); }
void json_w_begin_array(json_writer *w)  { w_open(w, '['); }
void json_w_end_array(json_writer *w)    { w_close(w, '[', ']'); }

/* Length of the well-formed UTF-8 character at s, or, negated, the length
 * of the maximal ill-formed subpart to replace by one U+FFFD. */
static long utf8_span(const unsigned char *s, size_t n)
{
    struct utf8_state st = {0};
    for (size_t i = 0; i < n; i++) {
        enum utf8_result r = utf8_feed(&st, s + i, 1);
        if (r == UTF8_COMPLETE)
            return (long)i + 1;
        if (r == UTF8_INVALID)
            return i == 0 ? -1 : -(long)i;
    }
    return -(long)n;
}

/* Escapes one ASCII byte that cannot appear raw in a JSON string: the
 * two-character forms where RFC 8259 has one, else \u00XX. */
static int escape_byte(buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    static const char named[0x80] = {
        ['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
        ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    };
    char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
    if (c < 0x80 && named[c]) {
        e[1] = named[c];
        return buf_append(b, e, 2);
    }
    return buf_append(b, e, 6);
}

/* Fast path first: runs of plain printable ASCII go out in one append. */
int json_escape(buf *b, const char *str, size_t n)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    int rc = buf_append(b, "\"", 1);
    while (rc == 0 && i < n) {
        size_t j = i;
        while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\')
            j++;
        if (j > i) {
            rc = buf_append(b, s + i, j - i);
            i = j;
            continue;
        }
        if (s[i] < 0x80) {
            rc = escape_byte(b, s[i++]);
            continue;
        }
        long k = utf8_span(s + i, n - i);
        rc = k > 0 ? buf_append(b, s + i, (size_t)k) : buf_append(b, fffd, 3);
        i += (size_t)(k > 0 ? k : -k);
    }
    return rc == 0 ? buf_append(b, "\"", 1) : -1;
}

static void w_escaped(json_writer *w, const char *s, size_t n)
{
    if (w->err == 0 && json_escape(w->out, s, n) < 0)
        w_fail(w, errno ? errno : ENOBUFS, "output buffer full");
}

void json_w_key_n(json_writer *w, const char *key, size_t n)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->kind[w->depth - 1] != '{' || w->after_key) {
        w_fail(w, EINVAL, "key outside an object or after another key");
        return;
    }
    if (w->used[w->depth - 1])
        w_put(w, ",", 1);
    w->used[w->depth - 1] = 1;
    w_escaped(w, key ? key : "", key ? n : 0);
    w_put(w, ":", 1);
    w->after_key = true;
}

void json_w_key(json_writer *w, const char *key)
{
    json_w_key_n(w, key, key ? strlen(key) : 0);
}

void json_w_string_n(json_writer *w, const char *s, size_t n)
{
    if (!w_value_begin(w))
        return;
    w_escaped(w, s ? s : "", s ? n : 0);
    w_value_end(w);
}

void json_w_string(json_writer *w, const char *s)
{
    if (s == NULL)
        json_w_null(w);
    else
        json_w_string_n(w, s, strlen(s));
}

void json_w_uint(json_writer *w, uint64_t v)
{
    char d[24];
    size_t i = sizeof(d);
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (!w_value_begin(w))
        return;
    w_put(w, d + i, sizeof(d) - i);
    w_value_end(w);
}

void json_w_int(json_writer *w, int64_t v)
{
    char d[24];
    size_t i = sizeof(d);
    /* Work on the magnitude as unsigned so INT64_MIN does not overflow. */
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--i] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        d[--i] = '-';
    if (!w_value_begin(w))
        return;
    w_put(w, d + i, sizeof(d) - i);
    w_value_end(w);
}

/* %g in the C locale's terms: put '.' back if the locale uses another
 * decimal point. */
static size_t format_double(double v, int prec, char *out, size_t size)
{
    char tmp[64];
    const char *dp = localeconv()->decimal_point;
    size_t dpl = dp ? strlen(dp) : 0, o = 0;
    int n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return 0;
    for (size_t i = 0; i < (size_t)n && o + 1 < size;) {
        if (dpl && strncmp(tmp + i, dp, dpl) == 0) {
            out[o++] = '.';
            i += dpl;
        } else {
            out[o++] = tmp[i++];
        }
    }
    out[o] = '\0';
    return o;
}

void json_w_double(json_writer *w, double v)
{
    char out[64];
    size_t n = 0;
    if (!isfinite(v)) {
        w_fail(w, EDOM, "NaN or infinity has no JSON form");
        return;
    }
    /* The shortest precision that reads back to the very same double. */
    for (int prec = 15; prec <= 17; prec++) {
        n = format_double(v, prec, out, sizeof(out));
        if (n && to_double(out, n) == v)
            break;
    }
    if (!w_value_begin(w))
        return;
    w_put(w, out, n);
    w_value_end(w);
}

void json_w_bool(json_writer *w, bool v)
{
    if (!w_value_begin(w))
        return;
    w_put(w, v ? "true" : "false", v ? 4 : 5);
    w_value_end(w);
}

void json_w_null(json_writer *w)
{
    if (!w_value_begin(w))
        return;
    w_put(w, "null", 4);
    w_value_end(w);
}

void json_w_raw(json_writer *w, const char *s, size_t n)
{
    if (!w_value_begin(w))
        return;
    w_put(w, s, n);
    w_value_end(w);
}

void json_w_value(json_writer *w, const json_value *v)
{
    switch (json_type(v)) {
    case JSON_NULL:   json_w_null(w); break;
    case JSON_BOOL:   json_w_bool(w, v->u.b); break;
    case JSON_STRING: json_w_string_n(w, v->u.str.s, v->u.str.len); break;
    case JSON_NUMBER:
        if (v->u.num.exact)
            json_w_int(w, v->u.num.i);
        else
            json_w_double(w, v->u.num.d);
        break;
    case JSON_ARRAY:
        json_w_begin_array(w);
        for (size_t i = 0; i < v->u.arr.n; i++)
            json_w_value(w, v->u.arr.items[i]);
        json_w_end_array(w);
        break;
    case JSON_OBJECT:
        json_w_begin_object(w);
        for (size_t i = 0; i < v->u.obj.n; i++) {
            json_w_key_n(w, v->u.obj.m[i].key, v->u.obj.m[i].klen);
            json_w_value(w, v->u.obj.m[i].value);
        }
        json_w_end_object(w);
        break;
    default:
        w_fail(w, EINVAL, "no value");
    }
}

int json_w_finish(json_writer *w)
{
    if (w->err == 0 && (!w->done || w->depth))
        w_fail(w, EINVAL, "incomplete document");
    if (w->err) {
        errno = w->err;
        return -1;
    }
    return 0;
}
