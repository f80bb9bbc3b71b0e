/*
 * weaprous.h - the WeApRous framework: the one header an application
 * includes.  Link with `pkg-config --cflags --libs weaprous`.
 *
 *   ev.h      the reactor (fds, timers, signals)
 *   buf.h     capped byte buffers
 *   http.h    HTTP/1.1 syntax: parser, chunked decoding, helpers
 *   server.h  the HTTP/1.1 server engine and transactions
 *   static.h  static files (www/ and static/ roots)
 *   log.h     error and access logs
 *   net.h     socket helpers
 *   utf8.h    UTF-8 validation
 *   json.h    JSON reader (DOM) and writer
 *   router.h  method + path-pattern routing
 *   app.h     the app layer: routes, hooks, request/response helpers
 *   ws.h      WebSocket (RFC 6455) endpoints and connections
 *   http_client.h  non-blocking HTTP/1.1 client on the reactor
 *   db.h      the SQLite store: migrations, accounts, sessions
 *   weblogin.h  cookie-session login pages on top of db.h and static.h
 *   ratelimit.h a bounded failure limiter (logins, sign-ups, passwords)
 */
#ifndef WEAPROUS_H
#define WEAPROUS_H

#define WEAPROUS_VERSION_MAJOR 0
#define WEAPROUS_VERSION_MINOR 1

#include "weaprous/limits.h"
#include "weaprous/ev.h"
#include "weaprous/buf.h"
#include "weaprous/http.h"
#include "weaprous/server.h"
#include "weaprous/static.h"
#include "weaprous/log.h"
#include "weaprous/net.h"
#include "weaprous/utf8.h"
#include "weaprous/json.h"
#include "weaprous/router.h"
#include "weaprous/app.h"
#include "weaprous/ws.h"
#include "weaprous/http_client.h"
#include "weaprous/db.h"
#include "weaprous/weblogin.h"
#include "weaprous/ratelimit.h"
#include "weaprous/entropy.h"

#endif
