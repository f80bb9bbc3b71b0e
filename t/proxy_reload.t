#!/usr/bin/env python3
# proxy_reload.t - SIGHUP reloads `weaprous proxy`'s routes: new requests
# use the new file, a request in flight finishes on the old routes, a bad
# file is refused (error logged with file:line:col) and the old routes are
# kept; TERM stops gracefully.

import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get('WR_SRCDIR', '.'), 't', 'lib'))
from wrtest import done_testing, is_, ok, wait_until  # noqa: E402
from proxy_helpers import Proxy, Upstream, get, up_name  # noqa: E402

old = Upstream('OLD', mode='slow', delay=1.5)
new = Upstream('NEW')
conf1 = 'status_listen 127.0.0.1:{status};\nhost "app" { proxy_pass http://127.0.0.1:%d; }\n' % old.port
conf2 = ('status_listen 127.0.0.1:{status};\nhost "app" { proxy_pass http://127.0.0.1:%d; }\n'
         'host "extra" { proxy_pass http://127.0.0.1:%d; }\n' % (new.port, new.port))

with Proxy(conf1) as px:
    is_(get(px.port, host='extra')[0], 404, 'before reload: "extra" unknown')
    slow = []
    th = threading.Thread(target=lambda: slow.append(get(px.port, host='app')))
    th.start()
    time.sleep(0.4)   # the slow request is now in flight on the old routes
    px.write_conf(conf2)
    px.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: px.status()['generation'] == 2, 5), 'SIGHUP: generation 2 loaded')
    st, h, body = get(px.port, host='app')
    is_((st, up_name(body)), (200, 'NEW'), 'new requests use the new routes')
    is_(up_name(get(px.port, host='extra')[2]), 'NEW', 'new block routed')
    th.join()
    st, h, body = slow[0]
    is_((st, up_name(body)), (200, 'OLD'), 'the request in flight finished on the old routes')

    with open(px.conf_path, 'w') as f:
        f.write('host "app" {\n    proxy_pass http://127.0.0.1:%d\n' % old.port)
    px.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: 'reload refused' in px.log_text(), 5), 'a bad file is refused')
    ok(':3:1: expected' in px.log_text(), 'the error names line and column')
    is_(px.status()['generation'], 2, 'generation unchanged')
    is_(up_name(get(px.port, host='extra')[2]), 'NEW', 'old routes kept')
    ok(px.alive(), 'the proxy is still running')

    rc = px.stop(signal.SIGTERM)
    is_(rc, 0, 'TERM: graceful stop, exit 0')

done_testing()
