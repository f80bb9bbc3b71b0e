/*
 * mime.c - the extension -> Content-Type table of the static file service.
 *
 * One sorted table searched with bsearch(); the type strings are complete
 * field values so that the hot path copies nothing.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weaprous/static.h"

#define MIME_MAX_EXT 16          /* longer "extensions" are not extensions */
#define MIME_DEFAULT "application/octet-stream"
#define MIME_HTML    "text/html; charset=utf-8"

struct mime_entry {
    const char *ext;     /* lower case, without the dot */
    const char *type;
    bool        compressible;
};

/* Sorted by ext (strcmp order): bsearch depends on it, and the unit test
 * checks the order. */
static const struct mime_entry mime_table[] = {
    { "avif",  "image/avif", false },
    { "bmp",   "image/bmp", true },
    { "css",   "text/css; charset=utf-8", true },
    { "csv",   "text/csv; charset=utf-8", true },
    { "gif",   "image/gif", false },
    { "gz",    "application/gzip", false },
    { "htm",   MIME_HTML, true },
    { "html",  MIME_HTML, true },
    { "ico",   "image/x-icon", true },
    { "jpeg",  "image/jpeg", false },
    { "jpg",   "image/jpeg", false },
    { "js",    "text/javascript; charset=utf-8", true },
    { "json",  "application/json", true },
    { "map",   "application/json", true },
    { "md",    "text/markdown; charset=utf-8", true },
    { "mjs",   "text/javascript; charset=utf-8", true },
    { "mp3",   "audio/mpeg", false },
    { "mp4",   "video/mp4", false },
    { "oga",   "audio/ogg", false },
    { "ogg",   "audio/ogg", false },
    { "ogv",   "video/ogg", false },
    { "otf",   "font/otf", true },
    { "pdf",   "application/pdf", false },
    { "png",   "image/png", false },
    { "svg",   "image/svg+xml", true },
    { "tar",   "application/x-tar", true },
    { "ttf",   "font/ttf", true },
    { "txt",   "text/plain; charset=utf-8", true },
    { "wasm",  "application/wasm", true },
    { "wav",   "audio/wav", false },
    { "webm",  "video/webm", false },
    { "webmanifest", "application/manifest+json", true },
    { "webp",  "image/webp", false },
    { "woff",  "font/woff", false },
    { "woff2", "font/woff2", false },
    { "xml",   "application/xml", true },
    { "zip",   "application/zip", false },
};

#define MIME_COUNT (sizeof mime_table / sizeof mime_table[0])

static int mime_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct mime_entry *)elem)->ext);
}

/* The entry for path's extension, or NULL.  The extension is the text after
 * the last dot of the last segment; a leading dot (".bashrc") is a name. */
static const struct mime_entry *mime_find(const char *path)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return NULL;
    size_t n = strlen(dot + 1);
    if (n == 0 || n > MIME_MAX_EXT)
        return NULL;
    char key[MIME_MAX_EXT + 1];
    for (size_t i = 0; i <= n; i++)   /* copies the NUL too */
        key[i] = (char)((dot[1 + i] >= 'A' && dot[1 + i] <= 'Z')
                        ? dot[1 + i] + ('a' - 'A') : dot[1 + i]);
    return bsearch(key, mime_table, MIME_COUNT, sizeof mime_table[0], mime_cmp);
}

const char *static_mime_type(const char *path)
{
    const struct mime_entry *e = mime_find(path);
    return e ? e->type : MIME_DEFAULT;
}

bool static_mime_is_html(const char *content_type)
{
    return strncasecmp(content_type, "text/html", 9) == 0
           && (content_type[9] == '\0' || content_type[9] == ';');
}

bool static_mime_compressible(const char *content_type)
{
    /* Searched by value: the table is small and this runs only for
     * clients that accept gzip. */
    for (size_t i = 0; i < MIME_COUNT; i++)
        if (mime_table[i].type == content_type
            || strcmp(mime_table[i].type, content_type) == 0)
            return mime_table[i].compressible;
    return false;
}

/* For the unit test: true when the table is sorted (bsearch needs it). */
bool static_mime_table_sorted(void);
bool static_mime_table_sorted(void)
{
    for (size_t i = 1; i < MIME_COUNT; i++)
        if (strcmp(mime_table[i - 1].ext, mime_table[i].ext) >= 0)
            return false;
    return true;
}
