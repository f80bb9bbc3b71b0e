#!/usr/bin/env python3
"""t/bench/idle_conns.py - open N idle keep-alive connections and hold them.

usage: idle_conns.py PORT N [PATH]

Each connection to 127.0.0.1:PORT sends one `GET PATH` (HTTP/1.1, keep-alive)
and reads the whole answer (a 200 with Content-Length), so the server holds
it as an idle keep-alive connection: its keep-alive timer, not its header
timer, is running.  Connections are set up BATCH at a time, non-blocking.  Then the
program prints `ready OPENED` on stdout and waits for commands on stdin:

  check  -> prints `open K`: how many of them the server has not closed
  (EOF)  -> closes them all with a reset (no TIME_WAIT left behind) and exits

Exit status: 0, or 1 when a connection could not be set up (the reason goes
to stderr and `ready` reports how many were opened before it).
"""
import os
import select
import socket
import struct
import sys

MAX_CONNS = 100000          # sanity cap on N
MAX_HEAD = 16384            # response head larger than this: give up
IO_TIMEOUT_S = 10.0         # longest wait for any progress
BATCH = 200                 # connections set up at once


def parse_answer(data):
    """Returns True once data holds one whole 200 answer with a
    Content-Length body, False while more is needed; raises on trouble."""
    if b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise ValueError("response head too large")
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise ValueError("answer: %r" % head.split(b"\r\n", 1)[0])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("answer without Content-Length")
    if len(body) > length:
        raise ValueError("more bytes than Content-Length")
    return len(body) == length


def open_batch(port, path, count):
    """Opens count connections at once (non-blocking connect, one request
    each) and returns them once every answer is in; raises on trouble.
    Batches keep the listen backlog short and let a server handle many
    connections per pass, as it would under real load."""
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, port)).encode()
    ep = select.epoll()
    socks, got = {}, {}
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            socks[s.fileno()] = s
            got[s.fileno()] = None          # None: request not sent yet
            ep.register(s.fileno(), select.EPOLLOUT)
        pending = count
        while pending:
            evs = ep.poll(IO_TIMEOUT_S)
            if not evs:
                raise TimeoutError("no answer in %.0f s" % IO_TIMEOUT_S)
            for fd, ev in evs:
                pending -= step(ep, socks[fd], got, fd, ev, req)
        return list(socks.values())
    except BaseException:
        for s in socks.values():
            s.close()
        raise
    finally:
        ep.close()


def step(ep, sock, got, fd, ev, req):
    """Advances one connection; returns 1 when its answer is complete."""
    if got[fd] is None:
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, "connect: " + os.strerror(err))
        sock.send(req)                      # a few dozen bytes: fits at once
        got[fd] = b""
        ep.modify(fd, select.EPOLLIN)
        return 0
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("closed before the whole answer")
    got[fd] += chunk
    if not parse_answer(got[fd]):
        return 0
    ep.unregister(fd)
    return 1


def count_open(socks):
    """A socket the server closed is readable (EOF); an idle one is not."""
    ep = select.epoll()
    try:
        for s in socks:
            ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
        gone = set()
        while True:
            evs = ep.poll(0, 4096)
            if not evs:
                break
            for fd, _ in evs:
                gone.add(fd)
                ep.unregister(fd)
        return len(socks) - len(gone)
    finally:
        ep.close()


def close_all(socks):
    reset = struct.pack("ii", 1, 0)     # SO_LINGER on, 0 s: RST on close
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, reset)
        except OSError:
            pass
        s.close()


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: idle_conns.py PORT N [PATH]\n")
        return 2
    port, n = int(argv[1]), int(argv[2])
    path = argv[3] if len(argv) == 4 else "/"
    if not 0 < port < 65536 or not 0 <= n <= MAX_CONNS:
        sys.stderr.write("idle_conns: bad PORT or N (N <= %d)\n" % MAX_CONNS)
        return 2
    socks, status = [], 0
    try:
        while len(socks) < n:
            socks += open_batch(port, path, min(BATCH, n - len(socks)))
    except (OSError, ValueError) as e:
        sys.stderr.write("idle_conns: connection %d: %s\n" % (len(socks) + 1, e))
        status = 1
    print("ready %d" % len(socks), flush=True)
    for line in sys.stdin:
        if line.strip() == "check":
            print("open %d" % count_open(socks), flush=True)
    close_all(socks)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
