/*
 * client.c - the non-blocking HTTP client, timers and signals on the same
 * loop as an app.  The program serves POST /echo, then calls itself three
 * times from a repeating timer (as a peer calls its tracker), prints each
 * answer and stops.  SIGHUP prints the number of answers so far.
 *
 *   cc client.c $(pkg-config --cflags --libs weaprous) -o client && ./client
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weaprous.h>

#define CLIENT_CALLS 3

struct demo {
    wr_app  *app;
    hc_client *hc;
    ev_timer tick;
    struct sockaddr_storage dst;   /* resolved once, before the loop runs */
    socklen_t dst_len;
    int sent, answered;
};

static void echo(http_txn *t, void *arg)
{
    size_t len;
    const char *body = http_txn_body(t, &len);
    app_send(t, 200, "application/json", body, len);
}

static void done(hc_request *r, int err, const struct hc_response *resp, void *arg)
{
    struct demo *d = arg;
    if (err != 0)
        printf("call failed: %s\n", strerror(err));
    else
        printf("%d %.*s\n", resp->status, (int)resp->body_len, resp->body);
    fflush(stdout);
    if (++d->answered == CLIENT_CALLS)
        app_stop(d->app);          /* graceful: the loop ends once idle */
}

static void tick(ev_loop *loop, ev_timer *tm, void *arg)
{
    struct demo *d = arg;
    char json[64];
    int n = snprintf(json, sizeof json, "{\"call\":%d}", ++d->sent);
    if (!hc_post_json(d->hc, (struct sockaddr *)&d->dst, d->dst_len,
                      "127.0.0.1", "/echo", json, (size_t)n, done, d))
        perror("hc_post_json");
    if (d->sent == CLIENT_CALLS)
        ev_timer_stop(loop, tm);
}

static void on_hup(ev_loop *loop, int signo, void *arg)
{
    struct demo *d = arg;
    printf("SIGHUP: %d answers so far\n", d->answered);
    fflush(stdout);
}

int main(void)
{
    static struct demo d;
    d.app = app_new(NULL, NULL);
    if (d.app == NULL || app_route(d.app, "POST", "/echo", echo, &d) < 0
        || app_listen(d.app, "127.0.0.1", 0) < 0)
        return 1;
    ev_loop *loop = app_loop(d.app);
    if (net_parse_addr("127.0.0.1", app_port(d.app), &d.dst, &d.dst_len) < 0
        || (d.hc = hc_client_new(loop, NULL)) == NULL)
        return 1;
    ev_timer_init(&d.tick, tick, &d);
    ev_timer_start(loop, &d.tick, 50, 50);   /* first after 50 ms, then every 50 ms */
    ev_signal_set(loop, SIGHUP, on_hup, &d);
    int rc = app_run(d.app);
    hc_client_free(d.hc);                    /* before the loop goes */
    app_free(d.app);
    return rc < 0 || d.answered != CLIENT_CALLS;
}
