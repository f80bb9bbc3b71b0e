/* test_json.c - the JSON reader and writer: valid and invalid vectors (the
 * JSONTestSuite categories), limits, error positions, writer rules, round
 * trips.  Every parse reads from a copy that ends at an unreadable page. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "weaprous/json.h"
#include "tap.h"

/* Parses n bytes placed right before a guard page. */
static json_doc *parse_n(const char *s, size_t n, const struct json_limits *lim,
                         struct json_error *e)
{
    char *g = guard_copy(s, n);
    json_doc *d = json_parse(g, n, lim, e);
    guard_free(g, n);
    return d;
}

static json_doc *parse(const char *s, struct json_error *e)
{
    return parse_n(s, strlen(s), NULL, e);
}

/* Each of these must parse. */
static void test_valid(void)
{
    static const char *const ok_docs[] = {
        "[]", "{}", " [1] ", "\"a\"", "123", "-0", "0.5", "1e5", "1E+2",
        "1e-2", "-1.5e-3", "true", "false", "null", "\t\r\n [ 1 , 2 ] \n",
        "[[[]]]", "{\"a\":{\"b\":[]}}", "\"\\u0000\"", "\"\\ud83d\\ude00\"",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "\"\\/\"", "[\"\\uDBFF\\uDFFF\"]",
        "\"\x7f\"", "[-0.0e+00]", "1.7976931348623157e308", "5e-324",
        "{\"\":\"\"}", "[1,\"a\",true,null,{},[]]",
    };
    for (size_t i = 0; i < sizeof(ok_docs) / sizeof(ok_docs[0]); i++) {
        struct json_error e = {0};
        json_doc *d = parse(ok_docs[i], &e);
        if (!ok(d != NULL, "valid #%zu", i))
            diag("  %s", e.msg);
        json_free(d);
    }
}

/* Each of these must fail with the given message. */
static void test_invalid(void)
{
    static const struct { const char *doc; size_t len; const char *msg; } bad[] = {
        { "[1,]", 0, "trailing comma" },
        { "{\"a\":1,}", 0, "trailing comma" },
        { "[,1]", 0, "unexpected character" },
        { "[1 2]", 0, "expected ',' or ']'" },
        { "{\"a\":1 \"b\":2}", 0, "expected ',' or '}'" },
        { "01", 0, "leading zeros are not allowed" },
        { "-01", 0, "leading zeros are not allowed" },
        { "[00]", 0, "leading zeros are not allowed" },
        { "1.", 0, "digit expected after '.'" },
        { "1.e3", 0, "digit expected after '.'" },
        { ".5", 0, "unexpected character" },
        { "+1", 0, "unexpected character" },
        { "-", 0, "invalid number" },
        { "-a", 0, "invalid number" },
        { "1e", 0, "digit expected in exponent" },
        { "1e+", 0, "digit expected in exponent" },
        { "0x10", 0, "unexpected data after the value" },
        { "NaN", 0, "unexpected character" },
        { "-Infinity", 0, "invalid number" },
        { "1e400", 0, "number out of range" },
        { "-1e400", 0, "number out of range" },
        { "[1]x", 0, "unexpected data after the value" },
        { "\"abc", 0, "unterminated string" },
        { "\"abc\\", 0, "unterminated string" },
        { "\"\\x\"", 0, "invalid escape" },
        { "\"\\\x00\"", 4, "invalid escape" },
        { "\"\\u12\"", 0, "invalid \\u escape" },
        { "\"\\u12G4\"", 0, "invalid \\u escape" },
        { "\"\\ud800\"", 0, "lone high surrogate" },
        { "\"\\udc00\"", 0, "lone low surrogate" },
        { "\"\\udc00\\ud800\"", 0, "lone low surrogate" },
        { "\"\\ud800\\u0041\"", 0, "lone high surrogate" },
        { "\"\\ud800x\"", 0, "lone high surrogate" },
        { "\"\\ud800\\ud800\"", 0, "lone high surrogate" },
        { "\"a\x01b\"", 0, "control character in string" },
        { "\"a\tb\"", 0, "control character in string" },
        { "\"a\nb\"", 0, "control character in string" },
        { "\"a\x00b\"", 4, "control character in string" },
        { "\"\xc0\xaf\"", 0, "invalid UTF-8" },            /* overlong '/' */
        { "\"\xe0\x80\xaf\"", 0, "invalid UTF-8" },        /* overlong */
        { "\"\xed\xa0\x80\"", 0, "invalid UTF-8" },        /* UTF-8 surrogate */
        { "\"\xf4\x90\x80\x80\"", 0, "invalid UTF-8" },    /* > U+10FFFF */
        { "\"\xe9\"", 0, "invalid UTF-8" },                /* Latin-1 */
        { "\"\x80\"", 0, "invalid UTF-8" },                /* lone continuation */
        { "\"\xe2\x82\"", 0, "invalid UTF-8" },            /* truncated */
        { "\"\xe2\x82\\n\"", 0, "invalid UTF-8" },         /* cut by an escape */
        { "\"\xff\"", 0, "invalid UTF-8" },
        { "\xef\xbb\xbf[]", 0, "unexpected character" },   /* BOM */
        { "[1]\x00", 4, "unexpected data after the value" },
        { "", 0, "unexpected end of input" },
        { " \n ", 0, "unexpected end of input" },
        { "[", 0, "unexpected end of input" },
        { "[1", 0, "unexpected end of input" },
        { "{\"a\":", 0, "unexpected end of input" },
        { "{\"a\" 1}", 0, "expected ':'" },
        { "{1:2}", 0, "expected a string key" },
        { "{'a':2}", 0, "expected a string key" },
        { "{\"a\":1,", 0, "unexpected end of input" },
        { "tru", 0, "invalid literal" },
        { "nul", 0, "invalid literal" },
        { "True", 0, "unexpected character" },
        { "[true false]", 0, "expected ',' or ']'" },
        { "'a'", 0, "unexpected character" },
        { "[1]]", 0, "unexpected data after the value" },
        { "\x0c[]", 0, "unexpected character" },           /* form feed is not ws */
        { "[\xa0" "1]", 0, "unexpected character" },
        { "]", 0, "unexpected character" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_error e = {0};
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].doc);
        json_doc *d = parse_n(bad[i].doc, len, NULL, &e);
        ok(d == NULL && errno == EINVAL, "invalid #%zu rejected", i);
        is_str(e.msg, bad[i].msg, "invalid #%zu message", i);
        json_free(d);
    }
}

static void test_positions(void)
{
    struct json_error e = {0};
    char text[96];
    ok(parse("{\n  \"a\": 01\n}", &e) == NULL, "leading zero in object");
    is_int(e.line, 2, "error line");
    is_int(e.column, 8, "error column");
    is_int(e.offset, 9, "error offset");
    is_str(json_error_text(&e, text, sizeof(text)),
           "line 2, column 8: leading zeros are not allowed", "error text");
    ok(parse("[1,\n2,\n\"x\xff\"]", &e) == NULL, "bad UTF-8 on line 3");
    is_int(e.line, 3, "bad byte line");
    is_int(e.column, 3, "bad byte column");
}

static void test_numbers(void)
{
    static const struct { const char *doc; bool exact; int64_t i; double d; } nums[] = {
        { "0", true, 0, 0 },
        { "-0", true, 0, -0.0 },
        { "42", true, 42, 42 },
        { "9223372036854775807", true, INT64_MAX, 9223372036854775807.0 },
        { "-9223372036854775808", true, INT64_MIN, -9223372036854775808.0 },
        { "9223372036854775808", false, 0, 9223372036854775808.0 },
        { "-9223372036854775809", false, 0, -9223372036854775809.0 },
        { "1.0", true, 1, 1 },
        { "1e2", true, 100, 100 },
        { "12.50e1", true, 125, 125 },
        { "1.5", false, 0, 1.5 },
        { "1e19", false, 0, 1e19 },
        { "0e99999", true, 0, 0 },
        { "0.000e5", true, 0, 0 },
        { "100e-2", true, 1, 1 },
        { "1e-400", false, 0, 0 },
        { "123456789012345678901234567890", false, 0, 123456789012345678901234567890.0 },
        { "9007199254740993", true, 9007199254740993LL, 9007199254740992.0 },
        { "1e99999999999999999999", false, 0, 0 },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        struct json_error e = {0};
        json_doc *d = parse(nums[i].doc, &e);
        int64_t v = -7;
        double x = -7;
        if (strcmp(nums[i].doc, "1e99999999999999999999") == 0) {
            ok(d == NULL && strcmp(e.msg, "number out of range") == 0, "huge exponent rejected");
            continue;
        }
        ok(d != NULL && json_type(json_root(d)) == JSON_NUMBER, "number %s", nums[i].doc);
        is_int(json_int(json_root(d), &v) == 0, nums[i].exact, "%s exact int?", nums[i].doc);
        if (nums[i].exact)
            is_int(v, nums[i].i, "%s int value", nums[i].doc);
        ok(json_double(json_root(d), &x) == 0 && x == nums[i].d, "%s double value", nums[i].doc);
        json_free(d);
    }
    json_doc *d = parse("-0", NULL);
    double z = 0;
    json_double(json_root(d), &z);
    ok(signbit(z), "-0 keeps its sign as a double");
    json_free(d);

    char big[JSON_MAX_NUMBER_LEN + 2];
    memset(big, '1', sizeof(big) - 1);
    big[1] = '.';
    big[sizeof(big) - 1] = '\0';
    struct json_error e = {0};
    ok(parse(big, &e) == NULL, "a %zu-digit number is rejected", sizeof(big) - 1);
    is_str(e.msg, "number too long", "... as too long");
    big[JSON_MAX_NUMBER_LEN] = '\0';
    d = parse(big, &e);
    ok(d != NULL && json_int(json_root(d), &(int64_t){0}) < 0, "a %d-digit number parses, not as int",
       JSON_MAX_NUMBER_LEN);
    json_free(d);

    d = parse("[5, 300]", NULL);
    int64_t r = 0;
    ok(json_int_range(json_index(json_root(d), 0), 1, 10, &r) == 0 && r == 5, "int in range");
    ok(json_int_range(json_index(json_root(d), 1), 1, 10, &r) < 0 && r == 5, "int out of range");
    json_free(d);
}

static void test_strings(void)
{
    size_t n = 0;
    json_doc *d = parse("\"a\\u0000b\"", NULL);
    const char *s = json_str(json_root(d), &n);
    is_mem(s, n, "a\0b", 3, "\\u0000 kept with its length");
    ok(json_str(json_root(d), NULL) == NULL, "no length asked: refused, not truncated");
    json_free(d);

    d = parse("\"\\ud83d\\ude00 \\u00e9\\u20AC \\\"\\\\\\/\\b\\f\\n\\r\\t\"", NULL);
    s = json_str(json_root(d), &n);
    is_mem(s, n, "\xf0\x9f\x98\x80 \xc3\xa9\xe2\x82\xac \"\\/\b\f\n\r\t", 19, "every escape");
    ok(s && s[n] == '\0', "NUL-terminated");
    json_free(d);

    d = parse("{\"k\\u00e9y\": \"v\"}", NULL);
    ok(json_get_str(json_root(d), "k\xc3\xa9y") && strcmp(json_get_str(json_root(d), "k\xc3\xa9y"), "v") == 0,
       "escaped key decoded");
    json_free(d);
}

static void test_access(void)
{
    json_doc *d = parse("{\"a\":1,\"b\":[true,null,\"x\"],\"a\":2,\"c\":{}}", NULL);
    const json_value *r = json_root(d);
    int64_t v = 0;
    bool b = false;
    ok(json_type(r) == JSON_OBJECT, "root is an object");
    is_int(json_len(r), 4, "4 members, duplicates kept");
    ok(json_int(json_get(r, "a"), &v) == 0 && v == 2, "duplicate key: last wins");
    const char *k = NULL;
    size_t kl = 0;
    const json_value *m = json_member(r, 0, &k, &kl);
    ok(m && json_int(m, &v) == 0 && v == 1 && strcmp(k, "a") == 0 && kl == 1,
       "iteration sees the first duplicate");
    ok(json_member(r, 4, &k, NULL) == NULL, "iteration ends");
    const json_value *arr = json_get(r, "b");
    is_int(json_len(arr), 3, "array length");
    ok(json_bool(json_index(arr, 0), &b) == 0 && b, "bool");
    ok(json_is_null(json_index(arr, 1)), "null");
    is_str(json_str(json_index(arr, 2), NULL), "x", "string");
    ok(json_index(arr, 3) == NULL, "index past the end");
    ok(json_get(r, "zz") == NULL, "missing key");
    ok(json_get(arr, "a") == NULL, "json_get on an array");
    ok(json_index(r, 0) == NULL, "json_index on an object");
    ok(json_str(json_get(json_get(r, "nope"), "deeper"), NULL) == NULL, "NULL chains");
    ok(json_type(NULL) == JSON_NONE, "type of NULL");
    ok(json_int(json_index(arr, 0), &v) < 0, "json_int on a bool");
    ok(json_bool(json_get(r, "a"), &b) < 0, "json_bool on a number");
    is_str(json_type_name(json_type(json_get(r, "c"))), "object", "type name");
    json_free(d);
    json_free(NULL);
}

static void nest(char *out, unsigned depth, char open, char close)
{
    memset(out, open, depth);
    memset(out + depth, close, depth);
    out[2 * depth] = '\0';
}

static void test_limits(void)
{
    char doc[2 * 300 + 1];
    struct json_error e = {0};
    json_doc *d;

    nest(doc, JSON_DEFAULT_MAX_DEPTH, '[', ']');
    ok((d = parse(doc, &e)) != NULL, "depth %d accepted", JSON_DEFAULT_MAX_DEPTH);
    json_free(d);
    nest(doc, JSON_DEFAULT_MAX_DEPTH + 1, '[', ']');
    ok(parse(doc, &e) == NULL, "depth %d rejected", JSON_DEFAULT_MAX_DEPTH + 1);
    is_str(e.msg, "nesting too deep", "... as too deep");
    is_int(e.offset, JSON_DEFAULT_MAX_DEPTH, "... at the first bracket too many");

    struct json_limits lim = { .max_depth = 2 };
    ok((d = parse_n("{\"a\":[1]}", 9, &lim, &e)) != NULL, "custom depth 2 accepted");
    json_free(d);
    ok(parse_n("{\"a\":[[1]]}", 11, &lim, &e) == NULL, "custom depth 2: 3 rejected");
    lim.max_depth = 100000;
    nest(doc, JSON_MAX_DEPTH, '[', ']');
    ok((d = parse_n(doc, strlen(doc), &lim, &e)) != NULL, "depth clamped: %d ok", JSON_MAX_DEPTH);
    json_free(d);
    nest(doc, JSON_MAX_DEPTH + 1, '[', ']');
    ok(parse_n(doc, strlen(doc), &lim, &e) == NULL, "depth clamped: %d rejected", JSON_MAX_DEPTH + 1);

    struct json_limits small = { .max_size = 10 };
    ok((d = parse_n("[1,2,3,45]", 10, &small, &e)) != NULL, "size at the limit");
    json_free(d);
    ok(parse_n("[1,2,3,456]", 11, &small, &e) == NULL, "size over the limit");
    is_str(e.msg, "document too large", "... as too large");

    /* A large array of small items: the arena grows and everything is kept. */
    size_t cnt = 100000, len = 0;
    char *big = malloc(cnt * 2 + 2);
    big[len++] = '[';
    for (size_t i = 0; i < cnt; i++) {
        big[len++] = (char)('0' + i % 10);
        big[len++] = i + 1 < cnt ? ',' : ']';
    }
    d = parse_n(big, len, NULL, &e);
    int64_t v = 0;
    ok(d && json_len(json_root(d)) == cnt
       && json_int(json_index(json_root(d), cnt - 1), &v) == 0 && v == (int64_t)((cnt - 1) % 10),
       "100000-element array");
    json_free(d);
    free(big);
}

/* Every proper prefix of an object is incomplete: an error, never a crash. */
static void test_prefixes(void)
{
    const char *doc = "{\"a\":[1,-2.5e3,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\xc3\xa9\",\"d\":true}";
    size_t n = strlen(doc), fails = 0;
    for (size_t i = 0; i < n; i++) {
        json_doc *d = parse_n(doc, i, NULL, NULL);
        if (d != NULL)
            fails++;
        json_free(d);
    }
    is_int(fails, 0, "no proper prefix parses");
}

static char *write_text(json_writer *w, buf *b)
{
    (void)w;
    buf_append(b, "", 1);
    return buf_ptr(b);
}

static void test_writer(void)
{
    buf b;
    json_writer w;
    buf_init(&b, 1 << 16);
    json_w_init(&w, &b);
    json_w_begin_object(&w);
    json_w_key(&w, "a"); json_w_int(&w, 1);
    json_w_key(&w, "b");
    json_w_begin_array(&w);
    json_w_bool(&w, true); json_w_bool(&w, false); json_w_null(&w);
    json_w_string(&w, "x\"y\\z\n\x01\x1f/\x7f");
    json_w_string(&w, NULL);
    json_w_end_array(&w);
    json_w_key(&w, "c"); json_w_begin_object(&w); json_w_end_object(&w);
    json_w_key(&w, "d"); json_w_double(&w, 1.5);
    json_w_key(&w, "e"); json_w_int(&w, INT64_MIN);
    json_w_key(&w, "f"); json_w_uint(&w, UINT64_MAX);
    json_w_key(&w, "g"); json_w_raw(&w, "[1,2]", 5);
    json_w_key(&w, "q\"k"); json_w_begin_array(&w); json_w_end_array(&w);
    json_w_end_object(&w);
    is_int(json_w_finish(&w), 0, "writer finishes");
    is_str(write_text(&w, &b),
           "{\"a\":1,\"b\":[true,false,null,\"x\\\"y\\\\z\\n\\u0001\\u001f/\x7f\",null],"
           "\"c\":{},\"d\":1.5,\"e\":-9223372036854775808,\"f\":18446744073709551615,"
           "\"g\":[1,2],\"q\\\"k\":[]}", "writer output");
    buf_free(&b);
}

static int misuse(void (*fn)(json_writer *), const char **msg)
{
    buf b;
    json_writer w;
    buf_init(&b, 4096);
    json_w_init(&w, &b);
    fn(&w);
    size_t len = buf_len(&b);
    bool failed = w.err != 0;
    if (failed) {
        json_w_null(&w);     /* sticky: nothing more is written */
        json_w_end_array(&w);
    }
    int rc = json_w_finish(&w);
    int err = errno;
    if (failed && buf_len(&b) != len)
        rc = 99;
    *msg = w.errmsg;
    buf_free(&b);
    return rc == -1 ? err : rc;
}

static void m_value_no_key(json_writer *w) { json_w_begin_object(w); json_w_int(w, 1); }
static void m_key_in_array(json_writer *w) { json_w_begin_array(w); json_w_key(w, "a"); }
static void m_key_top(json_writer *w) { json_w_key(w, "a"); }
static void m_two_keys(json_writer *w) { json_w_begin_object(w); json_w_key(w, "a"); json_w_key(w, "b"); }
static void m_mismatch(json_writer *w) { json_w_begin_object(w); json_w_end_array(w); }
static void m_close_after_key(json_writer *w) { json_w_begin_object(w); json_w_key(w, "a"); json_w_end_object(w); }
static void m_two_values(json_writer *w) { json_w_int(w, 1); json_w_int(w, 2); }
static void m_nan(json_writer *w) { json_w_begin_array(w); json_w_double(w, NAN); }
static void m_inf(json_writer *w) { json_w_double(w, -INFINITY); }
static void m_unclosed(json_writer *w) { json_w_begin_array(w); json_w_int(w, 1); }
static void m_nothing(json_writer *w) { (void)w; }
static void m_deep(json_writer *w)
{
    for (int i = 0; i <= JSON_MAX_DEPTH; i++)
        json_w_begin_array(w);
}

static void test_writer_errors(void)
{
    static const struct { void (*fn)(json_writer *); int err; const char *name; } cases[] = {
        { m_value_no_key, EINVAL, "value without key" },
        { m_key_in_array, EINVAL, "key in an array" },
        { m_key_top, EINVAL, "key at top level" },
        { m_two_keys, EINVAL, "two keys in a row" },
        { m_mismatch, EINVAL, "end_array closes an object" },
        { m_close_after_key, EINVAL, "object closed after a key" },
        { m_two_values, EINVAL, "two top-level values" },
        { m_nan, EDOM, "NaN" },
        { m_inf, EDOM, "-Infinity" },
        { m_unclosed, EINVAL, "unclosed array" },
        { m_nothing, EINVAL, "nothing written" },
        { m_deep, EINVAL, "nesting over JSON_MAX_DEPTH" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *msg = NULL;
        is_int(misuse(cases[i].fn, &msg), cases[i].err, "writer error: %s", cases[i].name);
        ok(msg != NULL, "... has a message (%s)", msg ? msg : "none");
    }

    buf b;
    json_writer w;
    buf_init(&b, 8);
    json_w_init(&w, &b);
    json_w_string(&w, "longer than eight bytes");
    ok(json_w_finish(&w) < 0 && errno == ENOBUFS, "full buffer: ENOBUFS");
    buf_free(&b);
}

static void test_writer_utf8(void)
{
    static const struct { const char *in; size_t n; const char *out; } v[] = {
        { "a\xff" "b", 3, "\"a\xef\xbf\xbd" "b\"" },
        { "\xe2\x82", 2, "\"\xef\xbf\xbd\"" },                       /* truncated: one */
        { "\xe2\x82x", 3, "\"\xef\xbf\xbdx\"" },
        { "\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" }, /* surrogate: three */
        { "\xf0\x9f\x98" "x", 4, "\"\xef\xbf\xbdx\"" },
        { "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\xf0\x9f\x98\x80\xc3\xa9", 6, "\"\xf0\x9f\x98\x80\xc3\xa9\"" }, /* valid kept */
        { "a\0b", 3, "\"a\\u0000b\"" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        buf b;
        buf_init(&b, 256);
        ok(json_escape(&b, v[i].in, v[i].n) == 0, "escape #%zu", i);
        is_mem(buf_ptr(&b), buf_len(&b), v[i].out, strlen(v[i].out), "escape #%zu output", i);
        buf_free(&b);
    }
}

static void test_doubles(void)
{
    static const struct { double d; const char *text; } v[] = {
        { 0.1, "0.1" }, { 1.5, "1.5" }, { 100.0, "100" }, { -0.0, "-0" },
        { 1e300, "1e+300" }, { 1.0 / 3.0, "0.3333333333333333" },
        { 5e-324, "4.94065645841247e-324" }, { 0.1 + 0.2, "0.30000000000000004" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        buf b;
        json_writer w;
        buf_init(&b, 256);
        json_w_init(&w, &b);
        json_w_double(&w, v[i].d);
        json_w_finish(&w);
        is_mem(buf_ptr(&b), buf_len(&b), v[i].text, strlen(v[i].text), "double %s", v[i].text);
        json_doc *d = parse_n(buf_ptr(&b), buf_len(&b), NULL, NULL);
        double back = 0;
        ok(json_double(json_root(d), &back) == 0 && back == v[i].d, "double %s reads back", v[i].text);
        json_free(d);
        buf_free(&b);
    }
}

/* parse -> write -> parse gives an equal document, and writing is stable. */
static void test_round_trip(void)
{
    static const char *const docs[] = {
        "{\"a\":[1,2.5,-3e-7,true,false,null],\"b\":{\"c\":\"\\u0000\\ud83d\\ude00\\t\"},\"a\":0}",
        "[1e-400, 1e308, 9223372036854775807, -9223372036854775808, 9223372036854775808]",
        "\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"", "[[],{},[{}],{\"\":[]}]", "0.1", "-0",
        "[123456789012345678901234567890, 1.0, 12.50e1, 0.000001, 1e-7]",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        buf b1, b2;
        json_writer w;
        buf_init(&b1, 1 << 16);
        buf_init(&b2, 1 << 16);
        json_doc *d1 = parse(docs[i], NULL);
        json_w_init(&w, &b1);
        json_w_value(&w, json_root(d1));
        int rc = json_w_finish(&w);
        json_doc *d2 = parse_n(buf_ptr(&b1), buf_len(&b1), NULL, NULL);
        json_w_init(&w, &b2);
        json_w_value(&w, json_root(d2));
        json_w_finish(&w);
        ok(d1 && rc == 0 && d2 && json_equal(json_root(d1), json_root(d2)), "round trip #%zu", i);
        is_mem(buf_ptr(&b2), buf_len(&b2), buf_ptr(&b1), buf_len(&b1), "second write identical #%zu", i);
        json_free(d1);
        json_free(d2);
        buf_free(&b1);
        buf_free(&b2);
    }
    json_doc *a = parse("{\"x\":[1,2]}", NULL), *b = parse("{\"x\":[1,3]}", NULL);
    ok(!json_equal(json_root(a), json_root(b)), "different documents are not equal");
    json_free(a);
    json_free(b);
}

int main(void)
{
    test_valid();
    test_invalid();
    test_positions();
    test_numbers();
    test_strings();
    test_access();
    test_limits();
    test_prefixes();
    test_writer();
    test_writer_errors();
    test_writer_utf8();
    test_doubles();
    test_round_trip();
    return done_testing();
}
