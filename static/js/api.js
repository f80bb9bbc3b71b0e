// api.js - the peer's local JSON API (docs/API.md, "Peer") as promises.
// Every call resolves to the parsed answer or rejects with an ApiError
// (status 0: the peer could not be reached).

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && (body.detail || body.error)) || (status ? `HTTP ${status}` : 'network error'));
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

async function call(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  } else if (method !== 'GET') {
    opts.body = '';      // a POST needs a Content-Length
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, null, 0);
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* an empty or non-JSON answer */ }
  if (!res.ok) throw new ApiError(res.status, data, Number(res.headers.get('Retry-After')) || 0);
  return { status: res.status, data };
}

// Conversation names are [A-Za-z0-9_-] or dm:A:B with user names of
// [A-Za-z0-9._-]: safe in a path as they are.
const seg = (s) => encodeURIComponent(s).replace(/%3A/gi, ':');

function page(path, before, limit) {
  const q = new URLSearchParams();
  if (before) q.set('before', before);
  if (limit) q.set('limit', String(limit));
  const qs = q.toString();
  return call('GET', qs ? `${path}?${qs}` : path);
}

export const api = {
  me: () => call('GET', '/me'),
  login: (username, password) => call('POST', '/login', { username, password }),
  logout: () => call('POST', '/logout'),
  everyone: () => call('GET', '/get-list?all=1'),
  members: (channel) => call('GET', `/get-list?channel=${seg(channel)}`),
  conversations: () => call('GET', '/channels'),
  join: (channel, password) => call('POST', '/add-list', password ? { channel, password } : { channel }),
  create: (name, access, password) =>
    call('POST', '/channels', password ? { name, access, password } : { name, access }),
  invite: (channel, user) => call('POST', `/channels/${seg(channel)}/invite`, { user }),
  leave: (channel) => call('DELETE', `/channels/${seg(channel)}/members/me`),
  history: (channel, before, limit) => page(`/channels/${seg(channel)}/messages`, before, limit),
  dmHistory: (peer, before, limit) => page(`/dm/${seg(peer)}/messages`, before, limit),
  read: (channel, upTo) => call('POST', `/channels/${seg(channel)}/read`, { up_to: upTo }),
  broadcast: (channel, text, clientId) =>
    call('POST', '/broadcast-peer', { channel, text, client_id: clientId }),
  sendDm: (peer, text, clientId) => call('POST', '/send-peer', { peer, text, client_id: clientId }),
};
