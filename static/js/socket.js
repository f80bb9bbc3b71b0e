// socket.js - the peer's /events WebSocket, reopened with exponential
// backoff (0.5 s doubling to 10 s, with jitter) whenever it closes.
//
//   const live = new Live({ onEvent(ev), onUp(first), onDown(retryInMs) });
//   live.start(); live.retryNow(); live.stop();

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;

export class Live {
  constructor(handlers) {
    this.h = handlers;
    this.ws = null;
    this.timer = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.opened = false;      // ever open: the next open is a reconnect
    this.stopped = true;
    this.up = false;
    this.onOnline = () => this.retryNow();
  }

  start() {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
      this.ws = null;
    }
    this.up = false;
  }

  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.open();
  }

  open() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/events`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = BACKOFF_MIN_MS;
      this.up = true;
      const first = !this.opened;
      this.opened = true;
      this.h.onUp(first);
    };
    ws.onmessage = (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      if (ev && typeof ev.type === 'string') this.h.onEvent(ev);
    };
    ws.onclose = () => {
      this.ws = null;
      this.up = false;
      if (this.stopped) return;
      const wait = Math.round(this.backoff * (0.8 + Math.random() * 0.4));
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
      this.timer = setTimeout(() => this.open(), wait);
      this.h.onDown(wait);
    };
  }
}
