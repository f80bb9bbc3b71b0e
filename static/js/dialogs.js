// dialogs.js - joining (the sidebar's "Channel name" box), creating
// (public, private or password), inviting and leaving, each with its
// errors shown where the user is looking.

import { api } from './api.js';

const $ = (id) => document.getElementById(id);
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

function showError(node, msg) {
  node.textContent = msg || '';
  node.hidden = !msg;
}

function errorText(e, what) {
  if (e.status === 0) return 'Your peer cannot be reached. Try again in a moment.';
  if (e.status === 429) return `Too many attempts. Try again in ${e.retryAfter || 60} seconds.`;
  if (e.status === 502 || e.status === 504) return 'The tracker cannot be reached. Try again in a moment.';
  return (e.body && e.body.detail) || `${what} failed (HTTP ${e.status}).`;
}

// The dialog PREFIX-dlg with its form and error line; opener (PREFIX-open)
// runs prepare(), clears the error and shows it modal.
function dialog(prefix, prepare) {
  const d = { dlg: $(`${prefix}-dlg`), form: $(`${prefix}-form`), err: $(`${prefix}-error`) };
  for (const b of d.dlg.querySelectorAll('[data-close]')) b.addEventListener('click', () => d.dlg.close());
  $(`${prefix}-open`).addEventListener('click', () => {
    if (prepare() === false) return;
    showError(d.err, '');
    d.dlg.showModal();
    const first = d.form.querySelector('input, .danger');
    if (first) first.focus();
  });
  return d;
}

const NAME_RULE = 'A channel name is 1 to 32 letters, digits, - or _, starting with a letter or digit.';

// app: joined(name, access), left(name), current(), people(), channels()
export function setupDialogs(app) {
  setupJoin(app);
  setupCreate(app);
  setupInvite(app);
  setupLeave(app);
}

function setupJoin(app) {
  const form = $('join-form');
  const name = $('join-name');
  const passWrap = $('join-pass-wrap');
  const pass = $('join-pass');
  const err = $('join-error');
  const reset = () => {
    passWrap.hidden = true;
    pass.value = '';
    showError(err, '');
    name.removeAttribute('aria-invalid');
  };
  name.addEventListener('input', () => { if (!passWrap.hidden || !err.hidden) reset(); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const channel = name.value.trim().replace(/^#/, '');
    if (!NAME_RE.test(channel)) {
      name.setAttribute('aria-invalid', 'true');
      showError(err, NAME_RULE);
      name.focus();
      return;
    }
    try {
      const { data } = await api.join(channel, passWrap.hidden ? undefined : pass.value);
      name.value = '';
      reset();
      app.joined(data.channel || channel, data.access);
    } catch (ex) {
      const needsPassword = ex.status === 403 && /password/i.test(ex.message);
      if (needsPassword && passWrap.hidden) {
        passWrap.hidden = false;
        showError(err, `#${channel} needs a password.`);
        pass.focus();
        return;
      }
      showError(err, errorText(ex, 'Joining'));
      (passWrap.hidden ? name : pass).focus();
    }
  });
}

function setupCreate(app) {
  const name = $('create-name');
  const passWrap = $('create-pass-wrap');
  const pass = $('create-pass');
  const { dlg, form, err } = dialog('create', () => {
    form.reset();
    passWrap.hidden = true;
  });
  const access = () => form.elements.access.value;
  form.addEventListener('change', () => { passWrap.hidden = access() !== 'password'; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = name.value.trim().replace(/^#/, '');
    const problem = !NAME_RE.test(n) ? [NAME_RULE, name]
      : access() === 'password' && !pass.value ? ['Choose a password for the channel.', pass] : null;
    if (problem) {
      showError(err, problem[0]);
      problem[1].focus();
      return;
    }
    try {
      const { data } = await api.create(n, access(), access() === 'password' ? pass.value : undefined);
      dlg.close();
      app.joined(data.channel || n, data.access || access());
    } catch (ex) {
      showError(err, ex.status === 409 ? `#${n} already exists: join it from the sidebar.`
        : errorText(ex, 'Creating the channel'));
      name.focus();
    }
  });
}

function setupInvite(app) {
  const user = $('invite-user');
  const done = $('invite-done');
  const { form, err } = dialog('invite', () => {
    const conv = app.current();
    if (!conv) return false;
    form.reset();
    done.textContent = '';
    $('invite-h').textContent = `Invite to #${conv.name}`;
    $('invite-suggest').replaceChildren(...app.people().map((u) => new Option(u)));
    return true;
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const conv = app.current();
    const who = user.value.trim();
    if (!conv || !who) return;
    showError(err, '');
    try {
      await api.invite(conv.name, who);
      done.textContent = `${who} is invited: #${conv.name} is in their list of channels to join.`;
      user.value = '';
      user.focus();
    } catch (ex) {
      done.textContent = '';
      const known = { 403: 'Only the owner of the channel can invite.', 404: `There is no user ${who}.`,
        409: `${who} is already a member.` };
      showError(err, known[ex.status] || errorText(ex, 'The invitation'));
      user.focus();
    }
  });
}

function setupLeave(app) {
  const { dlg, form, err } = dialog('leave', () => {
    const conv = app.current();
    if (!conv) return false;
    $('leave-h').textContent = `Leave #${conv.name}?`;
    $('leave-text').textContent = conv.access === 'public'
      ? 'You will stop receiving its messages; you can join again at any time.'
      : `You will stop receiving its messages; to come back you need ${conv.access === 'private' ? 'a new invitation' : 'the password'}.`;
    return true;
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const conv = app.current();
    if (!conv) return;
    try {
      await api.leave(conv.name);
      dlg.close();
      app.left(conv.name);
    } catch (ex) {
      showError(err, errorText(ex, 'Leaving'));
    }
  });
}
