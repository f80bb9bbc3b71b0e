/*
 * proxy_health.h - active health checks of a pool (health_check directive).
 *
 * Every `interval`, each server of the pool gets "GET uri HTTP/1.1" on a
 * fresh non-blocking connection; a 2xx or 3xx status line within `timeout`
 * is a success.  `fall` consecutive failures mark the server down (skipped
 * by the policies), `rise` consecutive successes bring it back.  Servers
 * start up.  Each check is a small state machine (connect, send, read).
 */
#ifndef PROXY_HEALTH_H
#define PROXY_HEALTH_H

#include "proxy_pool.h"

#define PROXY_HC_MAX_RESPONSE 1024   /* bytes read to find the status line */

/* Starts the periodic checks of p when its block enables them; 0 or -1. */
int proxy_health_start(struct proxy_pool *p);
/* Stops the timer and closes the checks in progress; idempotent. */
void proxy_health_stop(struct proxy_pool *p);

#endif
