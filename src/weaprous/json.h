/*
 * json.h - a JSON reader (RFC 8259) into a small read-only DOM, and a
 * streaming writer that appends to a buf.
 *
 * Reader rules (strict; every violation is an error with a position):
 *  - the input is UTF-8, validated strictly (utf8.h); a byte order mark is
 *    rejected, as is any byte outside the grammar;
 *  - the whole input is one value surrounded by optional whitespace
 *    (space, tab, CR, LF only);
 *  - strings: every escape of RFC 8259 7, including \u surrogate pairs; a
 *    lone or reversed surrogate is rejected; raw control bytes (< 0x20) are
 *    rejected; \u0000 is accepted and kept (see json_str());
 *  - numbers follow the grammar exactly (no leading zeros, no "+", no ".5",
 *    no "1.", no hex, no NaN/Infinity); one that overflows a double is
 *    rejected ("number out of range"), one that underflows becomes 0;
 *  - duplicate object keys are kept in order; json_get() returns the LAST
 *    one (as JavaScript's JSON.parse and Python's json do);
 *  - nesting deeper than the depth limit and documents larger than the size
 *    limit are rejected.
 *
 * The document lives in one arena: json_free() releases every value, key
 * and string at once.  Values are immutable.  Accessors accept NULL and then
 * return "nothing" (NULL, -1, JSON_NONE), so lookups chain safely:
 *   json_str(json_get(json_get(root, "user"), "name"), NULL).
 */
#ifndef WEAPROUS_JSON_H
#define WEAPROUS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weaprous/api.h"
#include "weaprous/buf.h"

WR_API_BEGIN

#define JSON_DEFAULT_MAX_DEPTH 64         /* arrays/objects nested deeper -> error */
#define JSON_MAX_DEPTH         256        /* hard ceiling for both reader and writer */
#define JSON_DEFAULT_MAX_SIZE  (1u << 20) /* input bytes -> "document too large" */
#define JSON_MAX_NUMBER_LEN    512        /* characters of one number -> error */

enum json_type {
    JSON_NONE = 0,      /* "no value": what accessors say about NULL */
    JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
};

typedef struct json_doc json_doc;
typedef struct json_value json_value;

/* Limits of one parse; a NULL pointer or a 0 field means the default. */
struct json_limits {
    size_t   max_size;   /* 0: JSON_DEFAULT_MAX_SIZE */
    unsigned max_depth;  /* 0: JSON_DEFAULT_MAX_DEPTH; clamped to JSON_MAX_DEPTH */
};

/* Where and why a parse failed.  line and column are 1-based; the column
 * counts bytes from the start of the line. */
struct json_error {
    size_t      offset;
    unsigned    line;
    unsigned    column;
    const char *msg;     /* static English text, e.g. "expected ':'" */
};

/* Parses s[0..n) (need not be NUL-terminated).  Returns the document, or
 * NULL with *err filled (err may be NULL); errno is ENOMEM when memory ran
 * out, EINVAL otherwise. */
json_doc *json_parse(const char *s, size_t n, const struct json_limits *lim,
                     struct json_error *err);
/* Frees the document and every value in it.  NULL is ignored. */
void json_free(json_doc *d);
const json_value *json_root(const json_doc *d);
/* Formats "line L, column C: MSG" into out[size]; returns out. */
char *json_error_text(const struct json_error *e, char *out, size_t size);

/* --- accessors (all accept NULL) --- */
enum json_type json_type(const json_value *v);
const char *json_type_name(enum json_type t);  /* "object", "string" ... */
/* Member `key` of an object (the last one when repeated), else NULL. */
const json_value *json_get(const json_value *obj, const char *key);
const json_value *json_get_n(const json_value *obj, const char *key, size_t klen);
/* Element i of an array, else NULL. */
const json_value *json_index(const json_value *arr, size_t i);
/* Elements of an array, members of an object, bytes of a string; 0 else. */
size_t json_len(const json_value *v);
/* Member i of an object (in document order, duplicates included): returns
 * its value and sets *key (NUL-terminated) and *klen (may be NULL). */
const json_value *json_member(const json_value *obj, size_t i,
                              const char **key, size_t *klen);
/*
 * The decoded string, NUL-terminated, or NULL if v is not a string.  With
 * len != NULL, *len is its byte length and the string may contain NUL bytes
 * (from \u0000).  With len == NULL, a string containing a NUL byte yields
 * NULL: a caller that only uses C strings is never handed a truncated one.
 */
const char *json_str(const json_value *v, size_t *len);
/* The number as int64 when it is an integer in range (exactly: "1.0" and
 * "1e2" qualify, "1.5" and 1e19 do not).  0, or -1 leaving *out alone. */
int json_int(const json_value *v, int64_t *out);
/* The same with a caller's range [min, max]. */
int json_int_range(const json_value *v, int64_t min, int64_t max, int64_t *out);
/* The number as double (nearest); 0 or -1. */
int json_double(const json_value *v, double *out);
/* true/false into *out; 0, or -1 when v is not a boolean. */
int json_bool(const json_value *v, bool *out);
bool json_is_null(const json_value *v);
/* Deep equality (numbers by value, objects member by member in order). */
bool json_equal(const json_value *a, const json_value *b);
/* Shorthand: json_str(json_get(obj, key), NULL). */
const char *json_get_str(const json_value *obj, const char *key);

/* --- writer --- */

/*
 * Appends JSON text to a buf.  Commas and nesting are tracked here; the
 * first error (misuse such as a key outside an object or a value without a
 * key, nesting over JSON_MAX_DEPTH, NaN/Infinity, a full buffer) is sticky:
 * later calls do nothing, and json_w_finish() reports it.  Output is always
 * valid UTF-8: invalid bytes in strings are replaced by U+FFFD (one per
 * maximal invalid subsequence, as Unicode recommends).
 */
typedef struct json_writer {
    buf        *out;
    int         err;         /* errno value of the first error, 0 if none */
    const char *errmsg;      /* text of the first error */
    unsigned    depth;
    bool        done;        /* a complete top-level value was written */
    bool        after_key;   /* inside an object, a key awaits its value */
    unsigned char kind[JSON_MAX_DEPTH];  /* private: '{' or '[' per level */
    unsigned char used[JSON_MAX_DEPTH];  /* private: level has an item */
} json_writer;

void json_w_init(json_writer *w, buf *out);
void json_w_begin_object(json_writer *w);
void json_w_end_object(json_writer *w);
void json_w_begin_array(json_writer *w);
void json_w_end_array(json_writer *w);
void json_w_key(json_writer *w, const char *key);
void json_w_key_n(json_writer *w, const char *key, size_t n);
void json_w_string(json_writer *w, const char *s);          /* NULL -> null */
void json_w_string_n(json_writer *w, const char *s, size_t n);
void json_w_int(json_writer *w, int64_t v);
void json_w_uint(json_writer *w, uint64_t v);
/* Shortest of %.15g/%.16g/%.17g that reads back to the same double;
 * NaN and infinities are an error (EDOM). */
void json_w_double(json_writer *w, double v);
void json_w_bool(json_writer *w, bool v);
void json_w_null(json_writer *w);
/* Inserts s[0..n) as one value, verbatim: the caller vouches that it is
 * one valid JSON value (e.g. text produced by another json_writer). */
void json_w_raw(json_writer *w, const char *s, size_t n);
/* Writes a parsed value (deep copy into text). */
void json_w_value(json_writer *w, const json_value *v);
/* 0 when exactly one complete value was written without error; else -1
 * with errno = w->err (EINVAL when incomplete) and w->errmsg set. */
int json_w_finish(json_writer *w);

/* Appends s[0..n) as a quoted JSON string to b (same escaping and U+FFFD
 * rule as the writer).  0, or -1 with errno when b is full. */
int json_escape(buf *b, const char *s, size_t n);

WR_API_END

#endif
