// sidebar.js - the lists: channels and direct conversations (links to
// #/c/NAME and #/dm/USER with their unread counts) and the people with
// their presence (a button opens the direct conversation).

import { el, icon, avatar, lastSeen, plural } from './format.js';

const ACCESS_ICON = { public: 'hash', private: 'lock', password: 'key' };

export function convHref(conv) {
  return conv.kind === 'dm' ? `#/dm/${conv.peer}` : `#/c/${conv.name}`;
}

function convLink(conv, current, online) {
  const active = current === conv.name;
  const badge = conv.unread > 0 ? el('span', { class: 'badge', 'aria-hidden': 'true' }, String(conv.unread)) : null;
  const label = conv.kind === 'dm' ? conv.peer : conv.name;
  const lead = conv.kind === 'dm'
    ? el('span', { class: 'chan-avatar' }, avatar(conv.peer, 'tiny'),
      el('span', { class: `dot ${online ? 'on' : 'off'}`, 'aria-hidden': 'true' }))
    : el('span', { class: 'chan-icon' }, icon(ACCESS_ICON[conv.access] || 'hash'));
  const a = el('a', {
    href: convHref(conv),
    class: `chan${active ? ' active' : ''}${conv.unread > 0 ? ' unread' : ''}`,
    'aria-current': active ? 'page' : null,
    'data-conv': conv.name,
    // the name first: "general, 3 unread"
    'aria-label': conv.unread > 0 ? `${label}, ${conv.unread} unread` : label,
  }, lead, el('span', { class: 'chan-name' }, label), badge);
  if (conv.kind !== 'dm' && conv.access && conv.access !== 'public') a.title = `${conv.access} channel`;
  return el('li', {}, a);
}

// Rebuilds both lists; keeps the keyboard focus on the same entry.
export function renderConversations(state, chanList, dmList, dmEmpty) {
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.conv : null;
  const convs = [...state.convs.values()].filter((c) => c.joined);
  const chans = convs.filter((c) => c.kind === 'channel').sort((a, b) => (a.name < b.name ? -1 : 1));
  const dms = convs.filter((c) => c.kind === 'dm').sort((a, b) => (b.last || 0) - (a.last || 0));
  chanList.replaceChildren(...chans.map((c) => convLink(c, state.current, false)));
  dmList.replaceChildren(...dms.map((c) => convLink(c, state.current, isOnline(state, c.peer))));
  dmEmpty.hidden = dms.length > 0;
  if (focused) {
    const again = document.querySelector(`a.chan[data-conv="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

function isOnline(state, user) {
  const p = state.people.get(user);
  return !!(p && p.online);
}

function presenceText(p) {
  if (p.online) return p.link === 'live' ? 'Online · direct link' : 'Online';
  return lastSeen(p.last_seen);
}

// Everyone but the user: online first, then by name.
export function renderPeople(state, list, empty, onPick) {
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.user : null;
  const people = [...state.people.values()].filter((p) => p.user !== state.me)
    .sort((a, b) => (a.online === b.online ? (a.user < b.user ? -1 : 1) : a.online ? -1 : 1));
  list.replaceChildren(...people.map((p) => el('li', {},
    el('button', { type: 'button', class: `person${p.online ? ' online' : ''}`, 'data-user': p.user,
      'aria-label': `${p.user}, ${presenceText(p).toLowerCase()}`, onclick: () => onPick(p.user) },
      el('span', { class: 'person-avatar' }, avatar(p.user),
        el('span', { class: `dot ${p.online ? 'on' : 'off'}`, 'aria-hidden': 'true' })),
      el('span', { class: 'person-text' }, el('span', { class: 'person-name' }, p.user),
        el('span', { class: 'person-sub' }, presenceText(p)))))));
  empty.hidden = people.length > 0;
  if (focused) {
    const again = list.querySelector(`button[data-user="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

export function onlineCount(state) {
  let n = 0;
  for (const p of state.people.values()) if (p.online && p.user !== state.me) n++;
  return plural(n, 'person online', 'people online');
}

// Public and password channels the user is not in: a click joins and
// opens one.  (Their names hold no "join": the "Join" button stays the
// only control of that name.)
export function renderJoinable(state, box, list, onJoin) {
  const joined = (name) => { const c = state.convs.get(name); return c && c.joined; };
  const open = state.channels.filter((c) => !c.member && !joined(c.name) && c.access !== 'private')
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  box.hidden = open.length === 0;
  list.replaceChildren(...open.map((c) => el('li', {},
    el('button', { type: 'button', class: 'chan join-chan', onclick: () => onJoin(c.name) },
      el('span', { class: 'chan-icon' }, icon(ACCESS_ICON[c.access] || 'hash')),
      el('span', { class: 'chan-name' }, c.name,
        el('span', { class: 'sr-only' }, `, ${c.access} channel, ${plural(c.members, 'member', 'members')}, not yours yet`)),
      el('span', { class: 'join-hint', 'aria-hidden': 'true' }, 'Join')))));
}
