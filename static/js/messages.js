// messages.js - the message window: one <article> per message (sender,
// time, text, and the state of the user's own ones), grouped by author and
// day, a "New messages" line, paging upwards, and a scroll position that
// never moves under the reader: at the bottom it follows new messages,
// elsewhere the message at the top of the view stays where it is and a
// "N new messages" button offers the way down.

import { el, icon, avatar, clock, fullDate, dayKey, dayLabel, textNodes, plural } from './format.js';

const GROUP_MS = 5 * 60 * 1000;     // same author within 5 minutes: one group
const BOTTOM_SLACK = 32;            // px from the end that still count as the bottom
const NEAR_TOP = 400;               // px from the top that load the previous page

export class MessageView {
  // opts: scroller, items, top, pill, pillText, me(), onRetry(m),
  // onNearTop(), onSeenBottom(), onReload() (after a failed page)
  constructor(opts) {
    Object.assign(this, opts);
    this.conv = null;
    this.nodes = new Map();       // message id -> article
    this.days = new Map();        // day key -> separator
    this.divider = el('div', { class: 'divider', role: 'separator', 'aria-label': 'New messages' },
      el('span', {}, 'New messages'));
    this.unseen = 0;               // others' messages that arrived below the view
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.pill.addEventListener('click', () => this.toBottom(true));
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= BOTTOM_SLACK;
  }

  onScroll() {
    if (!this.conv) return;
    if (this.scroller.scrollTop < NEAR_TOP) this.onNearTop();
    if (this.atBottom()) this.reachedBottom();
  }

  reachedBottom() {
    this.unseen = 0;
    this.pill.hidden = true;
    this.onSeenBottom();
  }

  toBottom(smooth = false) {
    const reduce = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    this.scroller.scrollTo({ top: this.scroller.scrollHeight, behavior: smooth && !reduce ? 'smooth' : 'instant' });
  }

  // Shows conv from scratch: at its "New messages" line when that is above
  // the last screen, else at the bottom.
  show(conv) {
    this.conv = conv;
    this.nodes = new Map();
    this.days = new Map();
    this.unseen = 0;
    this.pill.hidden = true;
    this.items.replaceChildren();
    this.render({ scroll: 'bottom', settle: false });
    if (conv.divider && this.divider.isConnected) {
      const top = this.divider.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top;
      if (top < 0) this.scroller.scrollTop = Math.max(0, this.scroller.scrollTop + top - 8);
    }
    if (this.atBottom()) this.reachedBottom();
  }

  // Brings the DOM in line with this.conv.list.  scroll: 'auto' (follow the
  // bottom if the reader is there, else keep the top message in place),
  // 'bottom'.  incoming: others' messages just added (for the pill).
  render({ scroll = 'auto', incoming = 0, settle = true } = {}) {
    const conv = this.conv;
    if (!conv) return;
    const follow = scroll === 'bottom' || this.atBottom();
    const anchor = follow ? null : this.anchor();
    this.scroller.setAttribute('aria-busy', 'true');
    reconcile(this.items, this.layout(conv));
    this.renderTop(conv);
    if (follow) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    } else if (anchor) {
      this.scroller.scrollTop += anchor.el.getBoundingClientRect().top - anchor.top;
    }
    this.scroller.setAttribute('aria-busy', 'false');
    if (!follow && incoming > 0) {
      this.unseen += incoming;
      this.pillText.textContent = plural(this.unseen, 'new message', 'new messages');
      this.pill.hidden = false;
    }
    if (settle && this.atBottom()) this.reachedBottom();
  }

  // The text of the topmost message in view, and where it is: the point
  // that must not move.
  anchor() {
    const top = this.scroller.getBoundingClientRect().top;
    for (const node of this.items.children) {
      if (node.tagName !== 'ARTICLE') continue;
      const r = node.getBoundingClientRect();
      if (r.bottom > top) {
        const ref = node.querySelector('.msg-text') || node;
        return { el: ref, top: ref.getBoundingClientRect().top };
      }
    }
    return null;
  }

  // The wanted children: day separators, the new-messages line, articles.
  layout(conv) {
    const out = [];
    let prev = null;
    const me = this.me();
    const lastOwn = [...conv.list].reverse().find((m) => m.origin === me);
    for (const m of conv.list) {
      const day = dayKey(m.sent_at);
      const newDay = !prev || dayKey(prev.sent_at) !== day;
      if (newDay) out.push(this.daySeparator(day, m.sent_at));
      const line = conv.divider === m.id;
      if (line) out.push(this.divider);
      const node = this.article(m);
      const cont = !newDay && !line && prev.origin === m.origin && m.sent_at - prev.sent_at < GROUP_MS;
      node.classList.toggle('cont', cont);
      // held by every member and not the newest: the state as a quiet tick
      if (m.origin === me) node.classList.toggle('settled', m !== lastOwn && settled(m));
      out.push(node);
      prev = m;
    }
    return out;
  }

  daySeparator(key, ms) {
    let d = this.days.get(key);
    if (!d) {
      const label = dayLabel(ms);
      d = el('div', { class: 'day', role: 'separator', 'aria-label': label }, el('span', {}, label));
      this.days.set(key, d);
    }
    return d;
  }

  renderTop(conv) {
    let content = null;
    if (conv.loading) content = el('p', { class: 'loading' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading messages…');
    else if (conv.failed) {
      content = el('p', { class: 'loading' }, 'Messages could not be loaded. ',
        el('button', { type: 'button', class: 'link-btn', onclick: () => this.onReload() }, 'Try again'));
    } else if (conv.loaded && !conv.more) {
      content = conv.kind === 'dm'
        ? el('div', { class: 'intro' }, avatar(conv.peer, 'large'), el('h3', {}, conv.peer),
          el('p', {}, `This is the beginning of your direct messages with ${conv.peer}. Only the two of you hold them.`))
        : el('div', { class: 'intro' }, el('span', { class: 'intro-icon', 'aria-hidden': 'true' }, icon('hash')),
          el('h3', {}, `Welcome to #${conv.name}`),
          el('p', {}, `This is the very beginning of #${conv.name}.`));
    }
    const key = content ? content.textContent : '';
    if (this.top.dataset.key !== key) {
      this.top.dataset.key = key;
      this.top.replaceChildren(...(content ? [content] : []));
    }
  }

  article(m) {
    let node = this.nodes.get(m.id);
    if (!node) {
      node = this.build(m);
      this.nodes.set(m.id, node);
    }
    this.updateState(node, m);
    return node;
  }

  // A local message became the stored one: keep its node (and focus).
  rename(oldId, newId) {
    const node = this.nodes.get(oldId);
    if (!node) return;
    this.nodes.delete(oldId);
    this.nodes.set(newId, node);
    node.dataset.id = newId;
  }

  build(m) {
    const own = m.origin === this.me();
    const time = el('time', { class: 'msg-time', datetime: new Date(m.sent_at).toISOString(), title: fullDate(m.sent_at) },
      clock(m.sent_at));
    const text = el('div', { class: 'msg-text' }, ...textNodes(m.text));
    const node = el('article', { class: `msg${own ? ' own' : ''}`, 'data-id': m.id },
      el('div', { class: 'msg-gutter' }, avatar(m.origin),
        el('span', { class: 'msg-hover-time', 'aria-hidden': 'true' }, clock(m.sent_at))),
      el('div', { class: 'msg-main' },
        el('div', { class: 'msg-head' }, el('span', { class: 'msg-author' }, m.origin), ' ', time),
        text));
    return node;
  }

  // The own message's state line, rebuilt only when the state changed.
  updateState(node, m) {
    if (m.origin !== this.me()) return;
    const key = `${m.state}|${m.delivered ?? ''}|${m.members ?? ''}|${m.error ?? ''}`;
    if (node.dataset.state === key) return;
    node.dataset.state = key;
    node.classList.toggle('failed', m.state === 'failed');
    node.classList.toggle('sending', m.state === 'sending');
    const main = node.querySelector('.msg-main');
    const old = main.querySelector('.msg-state');
    const line = stateLine(m, this.conv && this.conv.kind === 'dm', () => this.onRetry(m));
    if (old) old.replaceWith(line);
    else main.append(line);
  }

  // A delivery update for the current conversation.
  refresh(m) {
    const node = this.nodes.get(m.id);
    if (node) this.updateState(node, m);
  }
}

function settled(m) {
  return m.state === 'delivered' && (m.delivered ?? 0) >= (m.members ?? 0);
}

function stateLine(m, dm, retry) {
  const line = el('div', { class: `msg-state state-${m.state}` });
  switch (m.state) {
    case 'sending':
      line.append(icon('clock'), 'Sending…');
      break;
    case 'failed':
      line.append(icon('alert'), m.error ? `Not sent: ${m.error}. ` : 'Not sent. ',
        el('button', { type: 'button', class: 'link-btn', onclick: retry }, icon('retry'), 'Retry'));
      break;
    case 'pending':
      line.append(icon('clock'), 'Pending');
      line.title = 'Stored on your peer; it goes out when a member is online';
      break;
    case 'sent':
      line.append(icon('check'), 'Sent');
      break;
    case 'delivered':
      line.append(icon('checks'), el('span', { class: 'state-text' },
        dm ? 'Delivered' : `Delivered to ${m.delivered ?? 0} of ${m.members ?? 0}`));
      line.title = line.textContent;
      break;
    default:
      break;
  }
  return line;
}

// Makes parent's children exactly `want` (in order), moving as few nodes
// as possible: existing nodes in the same order are left alone, so a focus
// or a selection inside them survives.
function reconcile(parent, want) {
  const keep = new Set(want);
  for (const c of [...parent.children]) if (!keep.has(c)) c.remove();
  let cur = parent.firstElementChild;
  for (const node of want) {
    if (node === cur) {
      cur = cur.nextElementSibling;
    } else {
      parent.insertBefore(node, cur);
    }
  }
}
