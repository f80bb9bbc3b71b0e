/* hello.c - the smallest WeApRous app: one route with a parameter, JSON out.
 *   cc hello.c $(pkg-config --cflags --libs weaprous) -o hello && ./hello 8000
 *   curl http://127.0.0.1:8000/hello/world   ->  {"hello":"world"}           */
#include <stdio.h>
#include <stdlib.h>
#include <weaprous.h>

static void hello(http_txn *t, void *arg)
{
    json_writer *w = app_json_begin(t);        /* answer buffer owned by the app */
    json_w_begin_object(w);
    json_w_key(w, "hello");
    json_w_string(w, app_param(t, "name"));    /* decoded path segment */
    json_w_end_object(w);
    app_json_end(t, 200);                      /* completes the request */
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    wr_app *a = app_new(NULL, NULL);           /* NULL loop: the app owns one */
    if (!a || app_route(a, "GET", "/hello/:name", hello, NULL) < 0
        || app_listen(a, "127.0.0.1", port) < 0)
        return 1;
    printf("listening on %d\n", app_port(a));  /* port 0 picks a free port */
    fflush(stdout);
    int rc = app_run(a);                       /* until SIGTERM / SIGINT */
    app_free(a);
    return rc < 0;
}
