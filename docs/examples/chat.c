/*
 * chat.c - a WebSocket endpoint on a WeApRous app: every text message a
 * client sends on /chat goes to every other client ("room" = ws_set).
 *
 *   cc chat.c $(pkg-config --cflags --libs weaprous) -o chat && ./chat 8000
 *   then, in a browser console:
 *     ws = new WebSocket("ws://127.0.0.1:8000/chat"); ws.onmessage = e => console.log(e.data)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weaprous.h>

struct chat {
    ws_set *room;
    unsigned long joined;
};

static void on_open(ws_conn *c, void *arg)
{
    struct chat *ch = arg;
    if (ws_set_add(ch->room, c) < 0) {        /* ENOSPC: room full */
        ws_close(c, WS_CLOSE_TRY_AGAIN, "room full");
        return;
    }
    char hello[64];
    int n = snprintf(hello, sizeof hello, "welcome, guest %lu", ++ch->joined);
    ws_send_text(c, hello, (size_t)n);
}

static void on_message(ws_conn *c, enum ws_opcode op, const char *data,
                       size_t len, void *arg)
{
    struct chat *ch = arg;
    if (op != WS_OP_TEXT) {
        ws_close(c, WS_CLOSE_UNSUPPORTED, "text only");
        return;
    }
    /* Slow members whose queue is full are closed by the set (1013). */
    ws_set_broadcast(ch->room, WS_OP_TEXT, data, len, c);
}

static void on_close(ws_conn *c, int code, const char *reason, void *arg)
{
    /* The connection has already left the room; nothing to free. */
    fprintf(stderr, "chat: a client left (%d)\n", code);
}

static void chat_endpoint(http_txn *t, void *arg)
{
    static const struct ws_handlers h = { on_open, on_message, on_close };
    /* Cross-site WebSocket hijacking: a page from another site must not
     * open this socket with the user's cookies.  Allow no Origin (non-
     * browser clients) or our own host. */
    const char *origin = http_txn_header(t, "Origin");
    const char *host = http_txn_header(t, "Host");
    if (origin && (!host || strncmp(origin, "http://", 7) != 0
                   || strcmp(origin + 7, host) != 0)) {
        app_json_error(t, 403, "forbidden", "cross-origin WebSocket");
        return;
    }
    app_done(t);                              /* ws_upgrade completes t itself */
    ws_upgrade(t, NULL, &h, arg);             /* 400/426 answered inside */
}

int main(int argc, char **argv)
{
    struct chat ch = { ws_set_new(0), 0 };
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    wr_app *a = app_new(NULL, NULL);
    if (a == NULL || ch.room == NULL
        || app_route(a, "GET", "/chat", chat_endpoint, &ch) < 0
        || app_listen(a, "127.0.0.1", port) < 0)
        return 1;
    printf("listening on %d\n", app_port(a));
    fflush(stdout);
    int rc = app_run(a);
    app_free(a);
    ws_set_free(ch.room);
    return rc < 0;
}
