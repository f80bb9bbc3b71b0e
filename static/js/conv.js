// conv.js - one conversation (a channel or a direct conversation) as the
// page knows it: its messages in history order ((lamport, origin), the same
// on every member), with the user's own unsent messages after them, its
// unread count and whether older pages exist.

const STATE_RANK = { sending: 0, failed: 0, pending: 1, sent: 2, delivered: 3 };

export function dmName(a, b) {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

// History order; local (not yet stored) messages last, in sending order.
function before(a, b) {
  if (a.local || b.local) {
    if (a.local && b.local) return a.localSeq < b.localSeq;
    return !a.local;
  }
  if (a.lamport !== b.lamport) return a.lamport < b.lamport;
  return a.origin < b.origin;
}

let localSeq = 0;

export class Conv {
  constructor(name, kind, peer = null) {
    this.name = name;
    this.kind = kind;              // 'channel' | 'dm'
    this.peer = peer;              // the other user of a dm
    this.access = null;            // public | private | password
    this.unread = 0;
    this.last = null;              // newest message's sent_at
    this.list = [];                // messages in order
    this.byId = new Map();
    this.more = true;              // older messages on the peer
    this.loaded = false;           // newest page read
    this.loading = false;
    this.failed = false;           // the last page could not be read
    this.divider = null;           // id of the first unread message shown
    this.draft = '';
    this.members = null;           // from /get-list?channel=
    this.joined = true;
  }

  get label() {
    return this.kind === 'dm' ? this.peer : `#${this.name}`;
  }

  indexFor(m) {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.list[mid], m)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Adds or merges a stored message; returns true when it is new here.
  upsert(m) {
    const old = this.byId.get(m.id);
    if (old) {
      mergeState(old, m);
      return false;
    }
    const copy = { ...m };
    this.list.splice(this.indexFor(copy), 0, copy);
    this.byId.set(copy.id, copy);
    if (!this.last || copy.sent_at > this.last) this.last = copy.sent_at;
    return true;
  }

  addLocal(origin, text, cid) {
    const m = { id: `local:${cid}`, local: true, localSeq: ++localSeq, cid, channel: this.name,
      origin, text, sent_at: Date.now(), state: 'sending' };
    this.list.push(m);
    this.byId.set(m.id, m);
    return m;
  }

  localByCid(cid) {
    return this.byId.get(`local:${cid}`) || null;
  }

  // The unsent message that the stored message m is: the one with its
  // client_id, else (sent from elsewhere) none; a peer without client_id
  // in its answers: the oldest with the same text.
  localMatching(m) {
    if (m.client_id) return this.localByCid(m.client_id);
    return this.list.find((x) => x.local && x.text === m.text) || null;
  }

  remove(id) {
    const m = this.byId.get(id);
    if (!m) return;
    this.byId.delete(id);
    this.list.splice(this.list.indexOf(m), 1);
  }

  // Drops the history (kept: unsent messages) before a fresh first page.
  reset() {
    this.list = this.list.filter((m) => m.local);
    this.byId = new Map(this.list.map((m) => [m.id, m]));
    this.more = true;
    this.loaded = false;
    this.failed = false;
  }

  oldestStored() {
    return this.list.find((m) => !m.local) || null;
  }

  newestStored() {
    for (let i = this.list.length - 1; i >= 0; i--) if (!this.list[i].local) return this.list[i];
    return null;
  }

  // The first of the last `unread` messages of other users: where the
  // "new messages" line goes (null when they are not all loaded: top).
  firstUnread(me) {
    let n = this.unread;
    if (n <= 0) return null;
    for (let i = this.list.length - 1; i >= 0; i--) {
      const m = this.list[i];
      if (m.local || m.origin === me) continue;
      if (--n === 0) return m.id;
    }
    const first = this.oldestStored();
    return first ? first.id : null;
  }
}

// Delivery moves forward only: an older answer never takes a state back.
export function mergeState(into, from) {
  if (!from.state || !into.state) {
    if (from.state && !into.state) Object.assign(into, pickState(from));
    return;
  }
  const a = STATE_RANK[into.state] ?? 0;
  const b = STATE_RANK[from.state] ?? 0;
  if (b > a || (b === a && (from.delivered ?? 0) >= (into.delivered ?? 0))) Object.assign(into, pickState(from));
}

function pickState(m) {
  const s = { state: m.state };
  if (m.delivered !== undefined) s.delivered = m.delivered;
  if (m.members !== undefined) s.members = m.members;
  return s;
}
