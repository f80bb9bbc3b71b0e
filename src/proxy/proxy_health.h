/*
 * proxy_health.h - active health checks of a pool (health_check directive).
 *
 * Every `interval`, each server of the pool gets "GET uri HTTP/1.1" on a
 * fresh non-blocking connection; a response head with a 2xx or 3xx status
 * (after any interim 1xx) within `timeout` is a success.  `fall`
 * consecutive failures mark the server down (skipped by the policies),
 * `rise` consecutive successes bring it back.  Servers start up.  Each
 * check is a small state machine (connect, send, read).
 */
#ifndef PROXY_HEALTH_H
#define PROXY_HEALTH_H

#include "weaprous/http.h"
#include "proxy_pool.h"

#define PROXY_HEALTH_MAX_HEAD HTTP_MAX_HEAD  /* a longer response head fails */

/* Starts the periodic checks of p when its block enables them; 0 or -1. */
int proxy_health_start(struct proxy_pool *p);
/* Stops the timer and closes the checks in progress; idempotent. */
void proxy_health_stop(struct proxy_pool *p);

#endif
