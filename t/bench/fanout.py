#!/usr/bin/env python3
"""t/bench/fanout.py - the driver of t/bench/fanout.sh: one tracker and N
`weaprous peer` processes on loopback in one channel; peer 0 broadcasts.

For each N it measures, in rounds (the median is printed):
  mesh     seconds from the first sign-in until every peer is linked with
           every other (the whole mesh: N(N-1)/2 links, 4 tracker calls each)
  latency  paced sends (BENCH_RATE/s): from the 201 reaching us to the
           message pushed on each receiver's /events WebSocket, p50 / p99
           over every (message, receiver) pair
  msgs/s   BENCH_BURST sends as fast as 4 keep-alive connections go, until
           every receiver pushed all of them: messages / that time; the CPU
           time of the author and of the receivers per message
  RSS      of each peer after that (median and max)
  catch-up one receiver stopped (TERM), BENCH_CATCHUP messages sent, the
           receiver started again: seconds until its history holds them all
Every peer keeps an /events socket open (a browser tab), drained by one
thread here; the author's shows its own messages and their delivery states.  Prints one table line per N on stdout; progress on stderr.
    WR_BUILDDIR=... WR_SRCDIR=... python3 t/bench/fanout.py 10 50 100
"""

import http.client
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

os.environ.setdefault('WR_TEST_TIMEOUT', '86400')    # wrtest's alarm: not here
sys.path.insert(0, os.path.join(os.environ['WR_SRCDIR'], 't', 'lib'))
from wrtest import cpu_ticks, rss_kib, wait_until  # noqa: E402
from peer_helpers import Stack, Events, ws_split, ws_pong  # noqa: E402

ROUNDS = int(os.environ.get('BENCH_ROUNDS', '3'))
RATE = float(os.environ.get('BENCH_RATE', '50'))          # latency phase, sends/s
PACED = int(os.environ.get('BENCH_PACED', '200'))         # sends per latency round
BURST = int(os.environ.get('BENCH_BURST', '2000'))        # sends per throughput round
CATCHUP = int(os.environ.get('BENCH_CATCHUP', '10000'))
CATCHUP_ROUNDS = int(os.environ.get('BENCH_CATCHUP_ROUNDS', '1'))
SENDERS = 4
WAIT_S = float(os.environ.get('BENCH_WAIT', '300'))      # bound on every wait
HZ = os.sysconf('SC_CLK_TCK')


def say(msg):
    sys.stderr.write('fanout: %s\n' % msg)
    sys.stderr.flush()


def pctl(values, q):
    """The q-quantile (nearest rank) of values."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))] if v else 0.0


class Mux(threading.Thread):
    """Reads every receiver's /events: per receiver the count of message
    events, and with `stamp` on the arrival time of each message id."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.count = {}          # receiver -> message events seen
        self.arrived = {}        # (id, receiver) -> monotonic time
        self.closed = set()
        self.stamp = False
        self.halt = False

    def add(self, name, ev):
        ev.s.setblocking(False)
        with self.lock:
            self.count.setdefault(name, 0)
            self.closed.discard(name)
        self.sel.register(ev.s, selectors.EVENT_READ, [name, ev])

    def remove(self, ev):
        try:
            self.sel.unregister(ev.s)
        except (KeyError, ValueError):
            pass
        ev.close()

    def run(self):
        while not self.halt:
            for key, _ in self.sel.select(0.2):
                self.read(key)

    def read(self, key):
        name, ev = key.data
        now = time.monotonic()
        try:
            chunk = ev.s.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b''
        if not chunk:
            self.sel.unregister(ev.s)
            with self.lock:
                self.closed.add(name)
            return
        ev.buf += chunk
        while True:
            f = ws_split(ev.buf)
            if not f:
                break
            op, data, ev.buf = f
            if op == 9:
                ev.s.setblocking(True)
                ws_pong(ev.s, data)
                ev.s.setblocking(False)
            elif op == 1 and data.startswith(b'{"type":"message"'):
                self.seen(name, data, now)

    def seen(self, name, data, now):
        with self.lock:
            self.count[name] += 1
            if self.stamp:
                i = data.index(b'"id":"') + 6
                self.arrived[(data[i:data.index(b'"', i)].decode(), name)] = now

    def counts(self):
        with self.lock:
            return dict(self.count), set(self.closed)


class Bench:
    def __init__(self, n, stack, users):
        self.n = n
        self.stack = stack
        self.channel = 'fan%d' % n
        self.users = users[:n]
        self.peers = []
        self.mux = Mux()
        self.sent = 0             # messages of the author in the channel
        self.events = {}
        self.profiled = False
        self.counted = False

    # --- set-up -----------------------------------------------------------

    def start(self):
        t0 = time.monotonic()
        for i, u in enumerate(self.users):
            p = self.stack.peer(u, args=('--log-level', 'info'), wrap=self.wrap(i))
            st, doc = p.join(self.channel)
            if st not in (200, 201):
                raise RuntimeError('%s joins %s: %d %s' % (u, self.channel, st, doc))
            self.peers.append(p)
        say('N=%d: %d peers up and joined in %.1f s' % (self.n, self.n, time.monotonic() - t0))
        if not wait_until(self.meshed, WAIT_S, 0.5):
            raise RuntimeError('N=%d: the mesh did not form in %g s' % (self.n, WAIT_S))
        self.mesh_s = time.monotonic() - t0
        say('N=%d: full mesh after %.1f s' % (self.n, self.mesh_s))
        for p in self.peers:        # the author's tab too: its deliveries
            self.attach(p)
        self.mux.start()

    def wrap(self, i):
        """BENCH_CALLGRIND=DIR: the author (i 0) and one receiver (i 1) run
        under callgrind; what they do during the first round of
        BENCH_PROFILE (throughput or latency) is dumped into
        DIR/author-N.out.1 and DIR/receiver-N.out.1 (callgrind_annotate;
        divide Ir by the messages of that round)."""
        d = os.environ.get('BENCH_CALLGRIND')
        if not d or i > 1:
            return ()
        os.makedirs(d, exist_ok=True)
        out = os.path.join(d, '%s-%d.out' % (('author', 'receiver')[i], self.n))
        return ('valgrind', '--tool=callgrind', '--callgrind-out-file=' + out)

    def count(self, on, phase):
        if (os.environ.get('BENCH_CALLGRIND') and not self.counted
                and os.environ.get('BENCH_PROFILE', 'throughput') == phase):
            for p in self.peers[:2]:
                subprocess.run(['callgrind_control', '-z' if on else '-d', str(p.srv.pid)],
                               stdout=subprocess.DEVNULL)
            self.counted = not on

    def meshed(self):
        """Every peer holds n-1 links and the author says all are live."""
        for p in self.peers:
            me = p.me()
            if me.get('links') != self.n - 1:
                return False
        st, doc = self.author().api('GET', '/get-list?channel=' + self.channel)
        live = [x for x in (doc or {}).get('peers', []) if x.get('link') == 'live']
        return st == 200 and len(live) == self.n - 1

    def attach(self, p):
        ev = Events(p.port, p.token)
        self.events[p.user] = ev
        self.mux.add(p.user, ev)

    def author(self):
        return self.peers[0]

    def stop(self):
        self.mux.halt = True
        self.mux.join(5)
        for ev in self.events.values():
            ev.close()
        for p in self.peers:
            p.stop()

    # --- sending ----------------------------------------------------------

    def conn(self):
        return http.client.HTTPConnection('127.0.0.1', self.author().port, timeout=30)

    def send(self, c, text):
        body = json.dumps({'channel': self.channel, 'text': text})
        c.request('POST', '/broadcast-peer', body,
                  {'Content-Type': 'application/json',
                   'Authorization': 'Bearer ' + self.author().token})
        r = c.getresponse()
        doc = json.loads(r.read())
        if r.status != 201:
            raise RuntimeError('send: %d %s' % (r.status, doc))
        return doc['id']

    def burst(self, count):
        """count sends on SENDERS keep-alive connections at once."""
        left = [count]
        lock = threading.Lock()

        def worker():
            c = self.conn()
            while True:
                with lock:
                    if left[0] == 0:
                        break
                    left[0] -= 1
                self.send(c, 'burst message of some forty bytes, #%d' % left[0])
            c.close()
        threads = [threading.Thread(target=worker) for _ in range(SENDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.sent += count

    def all_pushed(self, skip=()):
        counts, closed = self.mux.counts()
        gone = closed - set(skip)
        if gone:
            raise RuntimeError('events socket closed by %s' % sorted(gone))
        return all(v >= self.sent for k, v in counts.items() if k not in skip)

    # --- phases -----------------------------------------------------------

    def latency(self):
        """p50, p99 in ms over every (message, receiver) of PACED sends,
        their count, and the receivers' CPU per message (us, mean)."""
        c = self.conn()
        acked = {}
        pids = [p.srv.pid for p in self.peers[1:]]
        cpu0 = [cpu_ticks(pid) for pid in pids]
        prof = self.profile('latency')
        self.count(True, 'latency')
        with self.mux.lock:
            self.mux.arrived.clear()
            self.mux.stamp = True
        next_t = time.monotonic()
        for i in range(PACED):
            next_t += 1.0 / RATE
            mid = self.send(c, 'paced message %d' % i)
            acked[mid] = time.monotonic()
            pause = next_t - time.monotonic()
            if pause > 0:
                time.sleep(pause)      # pacing the load, not waiting for it
        c.close()
        self.profile_end(prof)
        self.count(False, 'latency')
        self.sent += PACED
        if not wait_until(self.all_pushed, WAIT_S, 0.05):
            raise RuntimeError('latency round: not every message was pushed')
        cpu = statistics.mean(cpu_ticks(pid) - c0 for pid, c0 in zip(pids, cpu0))
        with self.mux.lock:
            self.mux.stamp = False
            arrived = dict(self.mux.arrived)
        author = self.author().user
        lat = [max(0.0, t - acked[mid]) * 1000 for (mid, who), t in arrived.items()
               if mid in acked and who != author]
        return pctl(lat, 0.5), pctl(lat, 0.99), len(lat), cpu * 1e6 / HZ / PACED

    def throughput(self):
        """messages/s, author CPU us/msg, receivers' CPU us/msg (each)."""
        pids = [p.srv.pid for p in self.peers]
        cpu0 = [cpu_ticks(pid) for pid in pids]
        prof = self.profile('throughput')
        self.count(True, 'throughput')
        t0 = time.monotonic()
        self.burst(BURST)
        t_sent = time.monotonic() - t0
        if not wait_until(self.all_pushed, WAIT_S, 0.01):
            raise RuntimeError('throughput round: not every message was pushed')
        dt = time.monotonic() - t0
        self.profile_end(prof)
        self.count(False, 'throughput')
        cpu = [cpu_ticks(pid) - c for pid, c in zip(pids, cpu0)]
        us = 1e6 / HZ / BURST
        say('N=%d: %d sends answered in %.2f s, all pushed after %.2f s'
            % (self.n, BURST, t_sent, dt))
        return BURST / dt, cpu[0] * us, statistics.mean(cpu[1:]) * us

    def profile(self, phase):
        """BENCH_PERF=DIR: `perf record -g` (or BENCH_PROFILER, e.g.
        "strace -c -o") of the author and of one receiver during the first
        round of BENCH_PROFILE ("throughput" or "latency") of each N, into
        DIR/author-N.data and DIR/receiver-N.data."""
        d = os.environ.get('BENCH_PERF')
        if not d or self.profiled or os.environ.get('BENCH_PROFILE', 'throughput') != phase:
            return None
        self.profiled = True
        os.makedirs(d, exist_ok=True)
        tool = os.environ.get('BENCH_PROFILER', 'perf record -q -g -o').split()
        return [subprocess.Popen(tool + [os.path.join(d, '%s-%d.data' % (who, self.n)),
                                         '-p', str(p.srv.pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for who, p in (('author', self.peers[0]), ('receiver', self.peers[1]))]

    @staticmethod
    def profile_end(procs):
        for pr in procs or ():
            pr.send_signal(signal.SIGINT)
            pr.wait()

    def rss(self):
        kib = [rss_kib(p.srv.pid) for p in self.peers]
        return statistics.median(kib) / 1024, max(kib) / 1024

    def held(self, p):
        """How many of the author's messages p holds (its unread count:
        nothing was ever marked read)."""
        try:
            st, doc = p.api('GET', '/channels')
        except OSError:
            return -1
        for c in (doc or {}).get('channels', []) if st == 200 else []:
            if c['name'] == self.channel:
                return c['unread']
        return -1

    def catchup(self):
        """Seconds from the restart of a receiver that missed CATCHUP
        messages until its history holds them all."""
        victim = self.peers[-1]
        self.mux.remove(self.events.pop(victim.user))
        victim.stop()
        wait_until(lambda: self.author().link(victim.user) == 'none', WAIT_S, 0.1)
        self.burst(CATCHUP)
        skip = (victim.user,)
        if not wait_until(lambda: self.all_pushed(skip), WAIT_S, 0.05):
            raise RuntimeError('catch-up round: the others did not get every message')
        t0 = time.monotonic()
        victim.start()
        ok = wait_until(lambda: self.held(victim) == self.sent, WAIT_S, 0.02)
        dt = time.monotonic() - t0
        wait_until(lambda: victim.me().get('links') == self.n - 1, WAIT_S, 0.1)
        self.attach(victim)
        with self.mux.lock:
            self.mux.count[victim.user] = self.sent
        if not ok:
            raise RuntimeError('catch-up: %d of %d after %g s'
                               % (self.held(victim), self.sent, WAIT_S))
        return dt


def med(rows, i):
    return statistics.median(r[i] for r in rows)


def run(n, stack, users):
    b = Bench(n, stack, users)
    try:
        b.start()
        lat = []
        thr = []
        for r in range(ROUNDS):
            lat.append(b.latency())
            thr.append(b.throughput())
            say('N=%d round %d: p50 %.2f ms, p99 %.2f ms (%d deliveries, receiver CPU '
                '%.0f us/msg at %g/s); %.0f msgs/s, CPU us/msg author %.0f, receiver %.0f'
                % (n, r + 1, *lat[-1], RATE, *thr[-1]))
        rss = b.rss()
        cu = []
        for r in range(CATCHUP_ROUNDS):
            cu.append(b.catchup())
            say('N=%d: catch-up of %d in %.2f s' % (n, CATCHUP, cu[-1]))
        return (n, med(thr, 0), med(lat, 0), med(lat, 1), rss[0], rss[1],
                med(thr, 1), med(thr, 2), statistics.median(cu) if cu else 0, b.mesh_s)
    finally:
        b.stop()


def main():
    ns = [int(a) for a in sys.argv[1:]] or [10, 50, 100]
    users = ['peer%03d' % i for i in range(max(ns))]
    t0 = time.monotonic()
    stack = Stack(users, heartbeat='10s')
    say('tracker up, %d accounts in %.1f s' % (len(users), time.monotonic() - t0))
    print('%5s %8s %8s %8s %10s %10s %11s %11s %11s %7s' % (
        'N', 'msgs/s', 'p50 ms', 'p99 ms', 'RSS MiB', 'RSS max', 'author', 'receiver',
        'catch-up s', 'mesh s'))
    print('%5s %8s %8s %8s %10s %10s %11s %11s %11s %7s' % (
        '', '', '', '', 'median', '', 'CPU us/msg', 'CPU us/msg', '(%d msgs)' % CATCHUP, ''))
    sys.stdout.flush()
    for n in ns:
        row = run(n, stack, users)
        print('%5d %8.0f %8.2f %8.2f %10.1f %10.1f %11.0f %11.0f %11.2f %7.1f' % row)
        sys.stdout.flush()
    stack.tracker.stop()


if __name__ == '__main__':
    main()
