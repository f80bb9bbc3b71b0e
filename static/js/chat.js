// chat.js - the chat page of a peer (www/chat.html): sign-in, then the
// three panes (conversations, messages, people) kept live by the peer's
// /events socket, with a resync from the history after every reconnect.
// Routes: #/c/CHANNEL and #/dm/USER.

import { api } from './api.js';
import { Live } from './socket.js';
import { Conv, dmName } from './conv.js';
import { MessageView } from './messages.js';
import { Composer } from './composer.js';
import { Notifier, setTitle } from './notify.js';
import { renderConversations, renderPeople, renderJoinable, convHref } from './sidebar.js';
import { setupDialogs } from './dialogs.js';
import { el, setAvatar, lastSeen, plural } from './format.js';

const $ = (id) => document.getElementById(id);

const PAGE = 50;                   // history page
const CATCH_UP = 200;              // newest messages read after a reconnect
const PAGE_MAX = 500;
const READ_DELAY_MS = 30;          // read markers of one burst of events: one request
const PEOPLE_REFRESH_MS = 30000;
const PHONE = window.matchMedia('(max-width: 720px)');      // one pane at a time
const NARROW = window.matchMedia('(max-width: 1100px)');    // people as a drawer
const LAST_CONV = 'weaprous.last';

const state = {
  me: null,
  convs: new Map(),            // name -> Conv
  current: null,               // name of the open conversation
  people: new Map(),           // user -> { user, online, last_seen, link }
  channels: [],                // the tracker's channels (joinable ones)
};

let live = null;
let view = null;
let composer = null;
let notifier = null;
let readTimer = 0;
let peopleTimer = 0;

const currentConv = () => (state.current ? state.convs.get(state.current) : null) || null;

// --- sign-in -------------------------------------------------------------------

function showSignin() {
  $('boot').hidden = true;
  $('app').hidden = true;
  $('signin').hidden = false;
  setTitle(0, 'Sign in');
  $('si-user').focus();
}

function signinError(msg, fields = []) {
  const err = $('si-error');
  err.textContent = msg || '';
  err.hidden = !msg;
  for (const id of ['si-user', 'si-pass']) {
    const bad = fields.includes(id);
    $(id).setAttribute('aria-invalid', bad ? 'true' : 'false');
    if (bad) $(id).setAttribute('aria-describedby', 'si-error');
    else $(id).removeAttribute('aria-describedby');
  }
}

let waitTimer = 0;

// 429: the button counts the wait down, then is usable again.
function signinWait(seconds) {
  const btn = $('si-submit');
  let left = seconds;
  clearInterval(waitTimer);
  btn.disabled = true;
  const tick = () => {
    if (left <= 0) {
      clearInterval(waitTimer);
      btn.disabled = false;
      btn.textContent = 'Sign in';
      return;
    }
    btn.textContent = `Try again in ${left} s`;
    left--;
  };
  tick();
  waitTimer = setInterval(tick, 1000);
}

function setupSignin() {
  $('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = $('si-user').value.trim();
    const pass = $('si-pass').value;
    if (!user || !pass) {
      signinError(user ? 'Enter your password.' : 'Enter your username.', [user ? 'si-pass' : 'si-user']);
      $(user ? 'si-pass' : 'si-user').focus();
      return;
    }
    const btn = $('si-submit');
    btn.disabled = true;
    btn.textContent = 'Signing in…';
    try {
      const { data } = await api.login(user, pass);
      $('si-pass').value = '';
      signinError('');
      btn.disabled = false;
      btn.textContent = 'Sign in';
      startApp(data.user);
    } catch (ex) {
      btn.disabled = false;
      btn.textContent = 'Sign in';
      if (ex.status === 401) {
        signinError('Wrong username or password.', ['si-user', 'si-pass']);
        $('si-pass').select();
        $('si-pass').focus();
      } else if (ex.status === 429) {
        const wait = ex.retryAfter || 60;
        signinError(`Too many failed attempts. Wait ${plural(wait, 'second', 'seconds')}, then try again.`);
        signinWait(wait);
      } else if (ex.status === 403) {
        signinError('This account is disabled. Ask the operator of the tracker.', ['si-user']);
      } else if (ex.status === 409) {
        signinError(ex.message, ['si-user']);
      } else if (ex.status === 0) {
        signinError('Your peer cannot be reached. Is it running?');
      } else if (ex.status === 502 || ex.status === 504) {
        signinError('Your peer cannot reach the tracker. Try again in a moment.');
      } else {
        signinError(`Signing in failed: ${ex.message}`);
      }
    }
  });
}

// --- the app ---------------------------------------------------------------------

async function startApp(user) {
  state.me = user;
  $('boot').hidden = true;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('me-name').textContent = user;
  setAvatar($('me-avatar'), user);
  setConn(true);
  live = new Live({ onEvent, onUp, onDown });
  live.start();
  await Promise.all([loadConversations(), loadPeople()]).catch(apiFailed);
  route();
  clearInterval(peopleTimer);
  peopleTimer = setInterval(() => loadPeople().catch(apiFailed), PEOPLE_REFRESH_MS);
}

function signedOut() {
  if (live) live.stop();
  live = null;
  clearInterval(peopleTimer);
  state.me = null;
  state.convs = new Map();
  state.current = null;
  state.people = new Map();
  view.conv = null;
  history.replaceState(null, '', location.pathname);
  showSignin();
}

// A failed background call: a lost session signs out; the rest waits for
// the next resync.
function apiFailed(e) {
  if (e && e.status === 401) signedOut();
}

function setConn(up, retryMs = 0) {
  const bar = $('conn');
  bar.classList.toggle('down', !up);
  $('me-status').textContent = up ? 'Connected' : 'Reconnecting…';
  $('me-status').classList.toggle('off', !up);
  if (up) {
    bar.replaceChildren();
    return;
  }
  const secs = Math.max(1, Math.round(retryMs / 1000));
  bar.replaceChildren(el('div', { class: 'conn-pill' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }),
    el('span', {}, `Reconnecting… your peer is not answering; next try in ${plural(secs, 'second', 'seconds')}.`),
    el('button', { type: 'button', class: 'link-btn', onclick: () => live && live.retryNow() }, 'Retry now')));
}

function onUp(first) {
  setConn(true);
  if (!first) resync().catch(apiFailed);
}

function onDown(retryMs) {
  setConn(false, retryMs);
  // the socket may have been refused for a session that ended
  api.me().catch(apiFailed);
}

// After a reconnect: lists, unread counts and the open conversation from
// the peer; the others are read again when opened.
async function resync() {
  await Promise.all([loadConversations(), loadPeople()]);
  for (const conv of state.convs.values()) if (conv.name !== state.current) conv.reset();
  const conv = currentConv();
  if (!conv) return;
  const { data } = await fetchPage(conv, null, CATCH_UP);
  conv.failed = false;
  if (!conv.newestStored() || data.messages.some((m) => conv.byId.has(m.id)) || !data.more) {
    let incoming = 0;
    for (const m of data.messages) if (conv.upsert(m) && m.origin !== state.me) incoming++;
    if (!conv.loaded) conv.more = data.more;
    conv.loaded = true;
    if (conv === currentConv()) view.render({ incoming });
  } else {
    conv.reset();     // further behind than a page: start from the newest
    absorbPage(conv, data);
    if (conv === currentConv()) view.show(conv);
  }
  maybeRead();
}

async function loadConversations() {
  const { data } = await api.conversations();
  const listed = new Set();
  for (const c of data.channels) {
    let conv = state.convs.get(c.name);
    if (!conv) {
      conv = new Conv(c.name, c.kind, c.peer);
      state.convs.set(c.name, conv);
    }
    conv.access = c.access;
    conv.last = c.last;
    conv.joined = true;
    // the open one at the bottom is being read: its count follows markRead
    if (!(c.name === state.current && reading())) conv.unread = c.unread;
    else if (c.unread > 0) conv.needsRead = true;
    listed.add(c.name);
  }
  for (const conv of state.convs.values())
    if (conv.kind === 'channel' && !listed.has(conv.name)) conv.joined = false;
  refreshLists();
  maybeRead();
}

async function loadPeople() {
  const { data } = await api.everyone();
  const people = new Map();
  for (const p of data.peers || []) people.set(p.user, p);
  state.people = people;
  state.channels = data.channels || [];
  refreshLists();
  updateHeader();
  const conv = currentConv();
  if (conv && conv.kind === 'channel') loadMembers(conv);     // someone may have joined
}

function refreshLists() {
  renderConversations(state, $('chan-list'), $('dm-list'), $('dm-empty'));
  renderPeople(state, $('people-list'), $('people-empty'), (user) => { location.hash = `#/dm/${user}`; });
  renderJoinable(state, $('join-more'), $('join-more-list'), (name) => {
    $('join-name').value = name;
    $('join-form').requestSubmit();
  });
  updateTitle();
}

function updateTitle() {
  let total = 0;
  for (const c of state.convs.values()) if (c.joined) total += c.unread;
  const conv = currentConv();
  setTitle(total, conv ? conv.label : '');
}

// --- routing -----------------------------------------------------------------------

function route() {
  if (!state.me) return;
  const m = location.hash.match(/^#\/(c|dm)\/([A-Za-z0-9._-]{1,32})$/);
  if (!m) {
    const last = localStorage.getItem(LAST_CONV);
    const fallback = state.convs.get(last) || state.convs.get('general')
      || [...state.convs.values()].find((c) => c.joined);
    if (fallback && fallback.joined) {
      history.replaceState(null, '', convHref(fallback));
      openConv(fallback, !PHONE.matches);     // a phone starts at the list
    } else {
      openNothing();
    }
    return;
  }
  if (m[1] === 'dm') {
    if (m[2] === state.me) {
      openNothing('That is you: pick someone else in People.');
      return;
    }
    const name = dmName(state.me, m[2]);
    let conv = state.convs.get(name);
    if (!conv) {
      conv = new Conv(name, 'dm', m[2]);
      state.convs.set(name, conv);
      refreshLists();
    }
    openConv(conv);
    return;
  }
  const conv = state.convs.get(m[2]);
  if (conv && conv.joined) openConv(conv);
  else openNothing(`You are not in #${m[2]}. Join it with the box in the sidebar.`);
}

function saveDraft() {
  const conv = currentConv();
  if (conv) conv.draft = composer.value;
}

function openNothing(text = 'Pick a channel or a person to start chatting.') {
  saveDraft();
  state.current = null;
  view.conv = null;
  $('log').hidden = true;
  $('empty').hidden = false;
  $('empty-text').textContent = text;
  $('conv-title').textContent = 'WeApRous';
  $('conv-sub').textContent = '';
  $('invite-open').hidden = true;
  $('leave-open').hidden = true;
  composer.value = '';
  composer.enable(false, 'Message');
  refreshLists();
}

async function openConv(conv, show = true) {
  if (state.current !== conv.name) saveDraft();
  state.current = conv.name;
  localStorage.setItem(LAST_CONV, conv.name);
  $('log').hidden = false;
  $('empty').hidden = true;
  composer.value = conv.draft;
  composer.enable(true, conv.kind === 'dm' ? `Message ${conv.peer}` : `Message #${conv.name}`);
  if (show) setView('chat');
  updateHeader();
  refreshLists();
  if (!conv.loaded) {
    conv.loading = true;
    conv.failed = false;
    view.show(conv);
    try {
      // enough to hold the first unread message
      absorbPage(conv, (await fetchPage(conv, null, Math.min(PAGE_MAX, Math.max(PAGE, conv.unread + 10)))).data);
    } catch (e) {
      conv.loading = false;
      conv.failed = true;
      apiFailed(e);
      if (conv === currentConv()) view.render();
      return;
    }
    if (conv !== currentConv()) return;
  }
  conv.divider = conv.firstUnread(state.me);
  view.show(conv);
  if (!PHONE.matches) composer.focus();
  fillUp();
  if (conv.kind === 'channel') loadMembers(conv);
}

function absorbPage(conv, data) {
  for (const m of data.messages) conv.upsert(m);
  conv.more = data.more;
  conv.loaded = true;
  conv.loading = false;
}

function fetchPage(conv, before, limit) {
  return conv.kind === 'dm' ? api.dmHistory(conv.peer, before, limit)
    : api.history(conv.name, before, limit);
}

async function loadMembers(conv) {
  try {
    const { data } = await api.members(conv.name);
    conv.members = data.peers || [];
    if (conv === currentConv()) updateHeader();
  } catch (e) {
    apiFailed(e);
  }
}

function updateHeader() {
  const conv = currentConv();
  if (!conv) return;
  $('conv-title').textContent = conv.label;
  let sub = '';
  if (conv.kind === 'dm') {
    const p = state.people.get(conv.peer);
    sub = p && p.online ? (p.link === 'live' ? 'Online · connected directly' : 'Online') : lastSeen(p && p.last_seen);
  } else {
    const access = { public: 'Public channel', private: 'Private channel', password: 'Password channel' }[conv.access] || 'Channel';
    sub = conv.members ? `${access} · ${plural(conv.members.length, 'member', 'members')}` : access;
  }
  $('conv-sub').textContent = sub;
  $('invite-open').hidden = conv.kind !== 'channel' || conv.access === 'public';
  $('leave-open').hidden = conv.kind !== 'channel' || conv.name === 'general';
}

// --- history paging --------------------------------------------------------------

async function loadOlder() {
  const conv = currentConv();
  if (!conv || !conv.loaded || conv.loading || conv.failed || !conv.more) return;
  const oldest = conv.oldestStored();
  if (!oldest) return;
  conv.loading = true;
  view.render();
  try {
    const { data } = await fetchPage(conv, oldest.id, PAGE);
    for (const m of data.messages) conv.upsert(m);
    conv.more = data.more;
    conv.failed = false;
  } catch (e) {
    conv.failed = true;
    apiFailed(e);
  } finally {
    conv.loading = false;
  }
  if (conv !== currentConv()) return;
  view.render();
  fillUp();
}

// Short histories: read pages until the window is full or none is left.
function fillUp() {
  requestAnimationFrame(() => {
    const conv = currentConv();
    const s = $('log');
    if (conv && conv.more && !conv.loading && s.scrollHeight <= s.clientHeight + 400) loadOlder();
  });
}

// --- read markers ------------------------------------------------------------------

function reading() {
  return document.visibilityState === 'visible' && view.conv && view.atBottom();
}

function maybeRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, READ_DELAY_MS);
}

async function markRead() {
  const conv = currentConv();
  // not before the first page is in: its "New messages" line needs the count
  if (!conv || !conv.loaded || conv.loading || !reading() || (conv.unread === 0 && !conv.needsRead)) return;
  const last = conv.newestStored();
  if (!last || conv.marking) return;
  conv.marking = true;
  conv.needsRead = false;
  const before = conv.unread;
  conv.unread = 0;
  refreshLists();
  try {
    const { data } = await api.read(conv.name, last.id);
    conv.unread = Math.max(0, data.unread);
  } catch (e) {
    conv.unread = before;
    apiFailed(e);
  } finally {
    conv.marking = false;
  }
  refreshLists();
  if (conv.unread > 0) maybeRead();
}

// --- live events -----------------------------------------------------------------------

function onEvent(ev) {
  switch (ev.type) {
    case 'message': onMessage(ev.message); break;
    case 'delivery': onDelivery(ev); break;
    case 'presence': onPresence(ev.user, { online: !!ev.online }); break;
    case 'link': onPresence(ev.peer, { link: ev.state }); break;
    case 'session': if (ev.state === 'signed-out') signedOut(); break;
    default: break;
  }
}

function convFor(channel) {
  let conv = state.convs.get(channel);
  if (conv) return conv;
  const dm = channel.match(/^dm:([^:]+):([^:]+)$/);
  if (dm) conv = new Conv(channel, 'dm', dm[1] === state.me ? dm[2] : dm[1]);
  else {
    conv = new Conv(channel, 'channel');
    loadConversations().catch(apiFailed);     // its access, joined elsewhere
  }
  state.convs.set(channel, conv);
  return conv;
}

function onMessage(m) {
  if (!m || typeof m.id !== 'string') return;
  const conv = convFor(m.channel);
  const current = conv === currentConv();
  const mine = m.origin === state.me;
  if (mine && !conv.byId.has(m.id)) {
    const local = conv.localMatching(m);
    if (local) {                       // stored: its POST may not have answered yet
      conv.remove(local.id);
      conv.upsert(m);
      if (current) {
        view.rename(local.id, m.id);
        view.render({ scroll: 'bottom' });
      }
      return;
    }
  }
  if (!conv.upsert(m)) {
    if (current) view.refresh(conv.byId.get(m.id));
    return;
  }
  if (!mine) {
    if (current && reading()) conv.needsRead = true;
    else conv.unread++;
  }
  notifier.message(m, conv.label, state.me);      // it leaves out one's own
  if (current) view.render({ incoming: mine ? 0 : 1, scroll: mine ? 'bottom' : 'auto' });
  refreshLists();
  if (current) maybeRead();
}

function onDelivery(ev) {
  const conv = state.convs.get(ev.channel);
  const m = conv && conv.byId.get(ev.id);
  if (!m) return;
  conv.upsert({ ...m, state: ev.state, delivered: ev.delivered, members: ev.members });
  if (conv === currentConv()) view.render();
}

function onPresence(user, change) {
  if (!user || user === state.me) return;
  const p = state.people.get(user) || { user, online: false, last_seen: null, link: 'none' };
  if (change.online === false && p.online) p.last_seen = Math.floor(Date.now() / 1000);
  Object.assign(p, change);
  if (change.link === 'live') p.online = true;
  state.people.set(user, p);
  refreshLists();
  updateHeader();
}

// --- sending ---------------------------------------------------------------------------

function clientId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return `w-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

function send(text) {
  const conv = currentConv();
  if (!conv) return false;
  const local = conv.addLocal(state.me, text, clientId());
  conv.divider = null;
  view.render({ scroll: 'bottom' });
  deliver(conv, local);
  return true;
}

// One attempt at storing the local message m; a retry sends the same
// client_id, so the peer stores it once however often it is tried.
async function deliver(conv, m) {
  m.state = 'sending';
  m.error = null;
  if (conv === currentConv()) view.refresh(m);
  let data;
  try {
    ({ data } = conv.kind === 'dm' ? await api.sendDm(conv.peer, m.text, m.cid)
      : await api.broadcast(conv.name, m.text, m.cid));
  } catch (e) {
    if (!conv.byId.has(m.id)) return;          // an event showed it was stored
    m.state = 'failed';
    m.error = e.status ? e.message : 'your peer cannot be reached';
    if (conv === currentConv()) view.refresh(m);
    apiFailed(e);
    return;
  }
  const current = conv === currentConv();
  if (conv.byId.has(m.id)) {
    conv.remove(m.id);
    if (current) view.rename(m.id, data.id);
  }
  conv.upsert(data);
  if (current) view.render({ scroll: 'bottom' });
  refreshLists();
}

// --- panes (phone: one at a time) ------------------------------------------------------

function setView(v) {
  $('app').dataset.view = v;
  syncPeopleToggle();
}

function peopleVisible() {
  return getComputedStyle($('people')).display !== 'none';
}

function syncPeopleToggle() {
  const open = peopleVisible();
  const t = $('people-open');
  t.setAttribute('aria-expanded', String(open));
  t.setAttribute('aria-label', open ? 'Hide people' : 'Show people');
}

let peopleFrom = 'chat';     // the phone pane the people pane goes back to

function togglePeople(open) {
  const app = $('app');
  if (PHONE.matches) {
    if (open && app.dataset.view !== 'people') peopleFrom = app.dataset.view;
    setView(open ? 'people' : peopleFrom);
  }
  else app.dataset.people = open ? 'open' : 'closed';
  syncPeopleToggle();
  if (open) {
    const first = $('people-list').querySelector('button');
    if (first) first.focus();
  } else if (!PHONE.matches || peopleFrom === 'chat') {
    $('people-open').focus();
  } else {
    $('side-people').focus();
  }
}

function setupPanes() {
  // the skip link focuses the box without touching the route (the hash)
  document.querySelector('.skip').addEventListener('click', (e) => {
    e.preventDefault();
    if (PHONE.matches) setView('chat');
    composer.focus();
  });
  $('back').addEventListener('click', () => {
    setView('list');
    const active = document.querySelector('a.chan.active');
    if (active) active.focus();
  });
  $('people-open').addEventListener('click', () => togglePeople(!peopleVisible()));
  $('side-people').addEventListener('click', () => togglePeople(true));
  $('people-close').addEventListener('click', () => togglePeople(false));
  PHONE.addEventListener('change', syncPeopleToggle);
  window.addEventListener('resize', syncPeopleToggle);
  // a conversation link clicked again on a phone still shows it
  $('side').addEventListener('click', (e) => {
    const a = e.target.closest('a.chan');
    if (a && a.getAttribute('href') === location.hash) setView('chat');
  });
  document.addEventListener('keydown', (e) => {
    if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      const links = [...document.querySelectorAll('a.chan')];
      const i = links.findIndex((a) => a.classList.contains('active'));
      const next = links[(i + (e.key === 'ArrowUp' ? -1 : 1) + links.length) % links.length];
      if (next) {
        e.preventDefault();
        location.hash = next.getAttribute('href');
      }
    } else if (e.key === 'Escape' && !document.querySelector('dialog[open]')) {
      const v = $('app').dataset.view;
      if (PHONE.matches && v !== 'list') setView(v === 'people' ? peopleFrom : 'list');
      else if (NARROW.matches && !PHONE.matches && $('app').dataset.people === 'open') togglePeople(false);
    }
  });
}

// --- start ---------------------------------------------------------------------------------

function setup() {
  view = new MessageView({
    scroller: $('log'), items: $('log-items'), top: $('log-top'), pill: $('pill'), pillText: $('pill-text'),
    me: () => state.me,
    onRetry: (m) => { const conv = currentConv(); if (conv && conv.byId.get(m.id) === m) deliver(conv, m); },
    onNearTop: loadOlder,
    onSeenBottom: maybeRead,
    onReload: () => {
      const conv = currentConv();
      if (!conv) return;
      conv.failed = false;
      if (conv.loaded) loadOlder();
      else openConv(conv);
    },
  });
  composer = new Composer({ form: $('composer-form'), box: $('composer'), send: $('send'),
    count: $('composer-count'), onSend: send });
  notifier = new Notifier($('notify-btn'), (channel) => {
    const conv = state.convs.get(channel);
    if (conv) location.hash = convHref(conv);
  });
  setupSignin();
  setupPanes();
  setupDialogs({
    joined: async (name) => {
      await loadConversations().catch(apiFailed);
      location.hash = `#/c/${name}`;
      loadPeople().catch(apiFailed);
    },
    left: (name) => {
      state.convs.delete(name);
      localStorage.removeItem(LAST_CONV);
      history.replaceState(null, '', location.pathname);
      route();
      loadPeople().catch(apiFailed);
    },
    current: currentConv,
    people: () => [...state.people.keys()].filter((u) => u !== state.me),
  });
  $('signout').addEventListener('click', async () => {
    try { await api.logout(); } catch (e) { /* signed out here anyway */ }
    signedOut();
  });
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') maybeRead();
  });
  setInterval(() => { if (state.me) renderPeople(state, $('people-list'), $('people-empty'), (u) => { location.hash = `#/dm/${u}`; }); }, 60000);
}

async function boot() {
  setup();
  try {
    const { data } = await api.me();
    startApp(data.user);
  } catch (e) {
    showSignin();
    if (e.status !== 401) signinError('Your peer did not answer; sign in to try again.');
  }
}

boot();
