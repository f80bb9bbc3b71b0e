// format.js - pure helpers of the chat page: DOM building, icons, avatars,
// times, byte counts and turning message text into text nodes and links
// (never HTML).

export const TEXT_MAX = 4000;          // bytes of UTF-8, as the peer checks
export const TEXT_WARN = 3600;         // the counter shows from here

const encoder = new TextEncoder();

export function byteLength(s) {
  return encoder.encode(s).length;
}

// el('button', { class: 'x', type: 'button' }, child, 'text', ...): an
// element with attributes (on* keys become listeners) and children.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('aria-hidden', 'true');
  if (cls) svg.setAttribute('class', cls);
  const use = document.createElementNS(SVG_NS, 'use');
  use.setAttribute('href', `/images/icons.svg#i-${name}`);
  svg.append(use);
  return svg;
}

// Avatar colours: each keeps white initials above 4.5:1.
const AVATAR_COLOURS = ['#2f6fde', '#7a4fd1', '#b8336a', '#c2410c', '#0f7b6c', '#3b6e22',
  '#5b5bd6', '#a2400f', '#1f6f8b', '#8a3ffc'];

export function avatarColour(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return AVATAR_COLOURS[h % AVATAR_COLOURS.length];
}

export function avatar(name, cls = '') {
  const a = el('span', { class: `avatar ${cls}`.trim(), 'aria-hidden': 'true' },
    (name[0] || '?').toUpperCase());
  a.style.setProperty('--avatar', avatarColour(name));
  return a;
}

export function setAvatar(node, name) {
  node.textContent = (name[0] || '?').toUpperCase();
  node.style.setProperty('--avatar', avatarColour(name));
}

// --- times ---------------------------------------------------------------

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const yearFmt = new Intl.DateTimeFormat(undefined,
  { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const shortDayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const rel = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export const clock = (ms) => timeFmt.format(ms);
export const fullDate = (ms) => fullFmt.format(ms);

export function dayKey(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(ms, now = Date.now()) {
  if (dayKey(ms) === dayKey(now)) return 'Today';
  if (dayKey(ms) === dayKey(now - 86400000)) return 'Yesterday';
  return new Date(ms).getFullYear() === new Date(now).getFullYear()
    ? dayFmt.format(ms) : yearFmt.format(ms);
}

// "last seen 5 minutes ago", from Unix seconds.
export function lastSeen(sec, now = Date.now()) {
  if (!sec) return 'Offline';
  const s = Math.max(0, Math.round(now / 1000 - sec));
  if (s < 60) return 'Last seen just now';
  if (s < 3600) return `Last seen ${rel.format(-Math.round(s / 60), 'minute')}`;
  if (s < 86400) return `Last seen ${rel.format(-Math.round(s / 3600), 'hour')}`;
  if (s < 7 * 86400) return `Last seen ${rel.format(-Math.round(s / 86400), 'day')}`;
  return `Last seen ${shortDayFmt.format(sec * 1000)}`;
}

// --- message text ----------------------------------------------------------

// http(s) URLs, up to a space or a character that cannot end one.
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

// The message text as nodes: text nodes, and <a> for each http(s) URL
// (rel="noopener noreferrer", new tab).  Nothing is parsed as HTML.
export function textNodes(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    const trail = url.match(TRAILING);
    // keep a closing parenthesis that pairs with one inside the URL
    if (trail && !(trail[0] === ')' && url.includes('('))) url = url.slice(0, -trail[0].length);
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    let href = null;
    try { href = new URL(url).href; } catch (e) { /* not a URL after all */ }
    out.push(href ? el('a', { href, rel: 'noopener noreferrer', target: '_blank' }, url)
      : document.createTextNode(url));
    last = m.index + url.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

export const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
