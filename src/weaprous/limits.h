/*
 * limits.h - every cap of the engine in one place, each mapped to the outcome
 * a client sees when it is exceeded.  Run-time configuration may lower or
 * raise the ones marked "default".
 */
#ifndef WEAPROUS_LIMITS_H
#define WEAPROUS_LIMITS_H

#define HTTP_MAX_REQUEST_LINE   8192      /* request line longer -> 414 */
#define HTTP_MAX_HEAD           16384     /* whole header block larger -> 431 */
#define HTTP_MAX_HEADERS        100       /* more fields -> 431 */
#define HTTP_MAX_STATUS_LINE    8192      /* upstream/status line longer -> error */
#define HTTP_DEFAULT_MAX_BODY   (1u << 20)/* default body cap -> 413 */
#define HTTP_MAX_CHUNK_EXT      4096      /* chunk extension bytes per chunk -> 400 */
#define HTTP_MAX_TRAILER        8192      /* trailer block bytes -> 400 */

#define HTTP_HEADER_TIMEOUT_MS  10000     /* default: head not complete -> 408 */
#define HTTP_BODY_TIMEOUT_MS    60000     /* default: body stalls -> 408 */
#define HTTP_KEEPALIVE_TIMEOUT_MS 60000   /* default: idle keep-alive -> close */
#define HTTP_SEND_TIMEOUT_MS    60000     /* default: client stops reading -> close */
#define HTTP_MAX_KEEPALIVE_REQUESTS 10000 /* requests per connection, then close */
#define HTTP_MAX_PIPELINE_PER_PASS 16     /* fairness: requests handled per pass */

#define CONN_OUT_HIGH_WATER     (256u << 10) /* stop producing above this */
#define CONN_OUT_CAP            (4u << 20)   /* hard cap of one output queue */
#define CONN_OUT_KEEP           (16u << 10)  /* an emptied queue keeps at most
                                                this much memory */
#define CONN_IN_CAP             (HTTP_MAX_HEAD + 65536) /* raw input kept per connection */
#define FILE_CHUNK              (64u << 10)  /* bytes read from a file per step */

#define EV_DEFAULT_MAX_FDS      65536
#define ACCEPT_PAUSE_MS         100       /* after EMFILE, listeners rest this long */

#endif
