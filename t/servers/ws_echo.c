/*
 * ws_echo.c - a tiny WebSocket server on the library, for t/ws.t.
 *
 *   ws_echo PORT [MAX_MESSAGE]
 *
 * GET /echo upgrades and echoes every message; GET /room upgrades and
 * relays every message to all other members of one broadcast set; GET /
 * answers "ws_echo".  Prints "listening PORT" once ready; SIGTERM stops it.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weaprous/server.h"
#include "weaprous/ws.h"

struct echo_app {
    struct ws_config cfg;
    ws_set *room;
};

static void echo_message(ws_conn *c, enum ws_opcode op, const char *d, size_t n, void *arg)
{
    (void)arg;
    if (op == WS_OP_TEXT)
        ws_send_text(c, d, n);
    else
        ws_send_binary(c, d, n);
}

static void room_open(ws_conn *c, void *arg)
{
    struct echo_app *app = arg;
    ws_set_add(app->room, c);
}

static void room_message(ws_conn *c, enum ws_opcode op, const char *d, size_t n, void *arg)
{
    struct echo_app *app = arg;
    ws_set_broadcast(app->room, op, d, n, c);
}

static void on_request(http_txn *t, void *arg)
{
    static const struct ws_handlers echo = { NULL, echo_message, NULL };
    static const struct ws_handlers room = { room_open, room_message, NULL };
    struct echo_app *app = arg;
    const char *path = http_txn_path(t);

    if (strcmp(path, "/echo") == 0)
        ws_upgrade(t, &app->cfg, &echo, app);
    else if (strcmp(path, "/room") == 0)
        ws_upgrade(t, &app->cfg, &room, app);
    else if (strcmp(path, "/") == 0)
        http_txn_reply(t, 200, "text/plain", "ws_echo\n", 8);
    else
        http_txn_error(t, 404);
}

static void on_term(ev_loop *loop, int signo, void *arg)
{
    (void)signo;
    (void)arg;
    ev_stop(loop);
}

int main(int argc, char **argv)
{
    struct echo_app app = {0};

    if (argc < 2) {
        fprintf(stderr, "usage: ws_echo PORT [MAX_MESSAGE]\n");
        return 2;
    }
    if (argc > 2)
        app.cfg.max_message = app.cfg.max_frame = strtoul(argv[2], NULL, 10);
    signal(SIGPIPE, SIG_IGN);
    ev_loop *loop = ev_loop_new(1024);
    app.room = ws_set_new(0);
    http_server *s = loop ? http_server_new(loop, NULL, on_request, &app) : NULL;
    if (!s || http_server_listen(s, "127.0.0.1", atoi(argv[1])) < 0) {
        perror("ws_echo");
        return 1;
    }
    ev_signal_set(loop, SIGTERM, on_term, NULL);
    ev_signal_set(loop, SIGINT, on_term, NULL);
    printf("listening %d\n", http_server_port(s));
    fflush(stdout);
    ev_run(loop);
    http_server_shutdown(s, 0, NULL, NULL);   /* also arms its grace timer */
    http_server_free(s);
    ws_set_free(app.room);
    ev_loop_free(loop);
    return 0;
}
