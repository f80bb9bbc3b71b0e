'use strict';
// chat_ui_browser.js - the chat page's controls in headless Chromium: the
// sign-in errors (wrong password, too many attempts with the wait), use by
// keyboard alone with a visible focus, text contrast at WCAG AA in the light
// and the dark scheme, channels created public, private (with an
// invitation) and with a password, leaving one, and phone width (one pane
// at a time, a back control).

const path = require('path');
const { test } = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'lib.js'));
const C = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'chat.js'));

// In the page: every visible text whose contrast with what is behind it is
// under WCAG AA (4.5:1, 3:1 for large text), as "ratio text".
function lowContrast() {
  const rgba = (s) => {
    let m = s.match(/^rgba?\(([^)]*)\)$/);
    if (m) {
      const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    m = s.match(/^color\(srgb ([^)]*)\)$/);
    if (m) {
      const p = m[1].split(/[\s/]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    return [0, 0, 0, 0];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    let bg = dark ? [0, 0, 0, 1] : [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('[disabled], option, datalist, script, style')) continue;
    const st = getComputedStyle(el);
    if (!el.getClientRects().length || st.visibility !== 'visible' || el.closest('.sr-only')) continue;
    const bg = background(el);
    const fg = over(rgba(st.color), bg);
    const l1 = lum(fg);
    const l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${ratio.toFixed(2)} "${el.textContent.trim().slice(0, 30)}"`);
  }
  return bad;
}

// What marks the focused element: its outline, or a ring (box-shadow) on
// it or its box.
function focusMark() {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const st = getComputedStyle(e);
  const outline = st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2;
  const ring = [e, e.parentElement].some((x) => x && getComputedStyle(x).boxShadow !== 'none');
  const name = e.getAttribute('aria-label') || e.textContent.trim().slice(0, 20) || e.id || e.tagName;
  return { name, id: e.id, tag: e.tagName, visible: outline || ring };
}

// Tab until the focused element satisfies want(mark), at most 60 times;
// every element passed on the way must show its focus.
async function tabTo(page, want, unmarked) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const m = await page.evaluate(focusMark);
    if (m && !m.visible) unmarked.push(m.name);
    if (m && want(m)) return m;
  }
  throw new Error('not reached with Tab');
}

test(async (t, lib) => {
  const chat = await lib.startChat({ users: ['alice', 'bob', 'carol'], trackerArgs: ['--login-max-failures', '3'] });
  const { alice, bob, carol } = chat.peers;
  const browser = await lib.launch();

  // --- by keyboard alone ---------------------------------------------------------------
  const A = await C.openPage(browser, alice);
  const a = A.page;
  const unmarked = [];
  await a.getByRole('textbox', { name: 'Username' }).waitFor();
  t.ok(await a.evaluate(() => document.activeElement.id === 'si-user'), 'the sign-in screen puts the focus in Username');
  await a.keyboard.type('alice');
  await a.keyboard.press('Tab');
  await a.keyboard.type('wrong password');
  await a.keyboard.press('Enter');
  const alert = a.getByRole('alert').filter({ hasText: /wrong/i });
  await alert.waitFor();
  t.is(await alert.textContent(), 'Wrong username or password.', 'a wrong password: an inline error');
  t.is(await a.getByRole('textbox', { name: 'Password' }).getAttribute('aria-invalid'), 'true', '... the field marked invalid');
  t.is(await a.evaluate(() => document.activeElement.id), 'si-pass', '... the focus back in Password');
  await a.keyboard.type('alice');
  await a.keyboard.press('Enter');
  await C.nav(a).waitFor();
  t.ok(true, 'signed in with the keyboard');
  await tabTo(a, (m) => m.id === 'join-name', unmarked);
  await a.keyboard.type('general');
  await a.keyboard.press('Enter');
  await C.entry(a, 'general').waitFor();
  const focusIn = (id) => lib.until(() => a.evaluate((x) => document.activeElement.id === x, id),
    { what: `the focus in #${id}`, describe: () => 'it elsewhere' }).then(() => true, () => false);
  t.ok(await focusIn('composer'), 'joined by keyboard: the focus goes to the message box');
  await a.keyboard.type('typed, not clicked');
  await a.keyboard.press('Enter');
  await C.article(a, 'typed, not clicked').getByText(/Sent|Delivered|Pending/).waitFor();
  t.ok(true, 'a message sent by keyboard');

  await bob.api('POST', '/add-list', { channel: 'general' });
  await C.people(a).getByRole('button', { name: /^bob,/ }).waitFor();
  await tabTo(a, (m) => /^bob,/.test(m.name), unmarked);
  await a.keyboard.press('Enter');
  await a.getByRole('heading', { level: 2, name: 'bob', exact: true }).waitFor();
  t.ok(true, 'People reached with Tab; Enter opens the direct conversation');
  await a.keyboard.press('Shift+Tab');     // back out of the message box
  await tabTo(a, (m) => /^general/.test(m.name), unmarked);
  await a.keyboard.press('Enter');
  await a.getByRole('heading', { level: 2, name: '#general' }).waitFor();
  t.ok(true, 'a channel entry reached with Tab; Enter opens it');
  await tabTo(a, (m) => /^Skip to/.test(m.name), unmarked);
  await a.keyboard.press('Enter');
  t.ok(await focusIn('composer'), 'the "Skip to the message box" link puts the focus there');
  await tabTo(a, (m) => m.name === 'Create a channel', unmarked);
  await a.keyboard.press('Enter');
  await a.getByRole('dialog').waitFor();
  t.ok(await focusIn('create-name'), 'Create a channel: a dialog with the focus in its Name');
  await a.keyboard.press('Escape');
  await a.getByRole('dialog').waitFor({ state: 'hidden' });
  t.ok(true, 'Escape closes it');
  t.is(unmarked, [], 'every control reached with Tab shows where the focus is');

  // --- contrast ------------------------------------------------------------------------------
  await bob.api('POST', '/broadcast-peer', { channel: 'general', text: 'a message from bob, see https://example.org/' });
  await C.article(a, 'a message from bob').waitFor();
  t.is(await a.evaluate(lowContrast), [], 'light scheme: every text at WCAG AA contrast or better');
  const D = await C.openPage(browser, alice, { colorScheme: 'dark' });
  await C.signIn(D.page, 'alice');
  await C.article(D.page, 'a message from bob').waitFor();
  t.is(await D.page.evaluate(lowContrast), [], 'dark scheme: every text at WCAG AA contrast or better');
  await C.shot(t, D.page, 'dark');
  const S = await C.openPage(browser, carol);
  await S.page.getByRole('textbox', { name: 'Username' }).waitFor();
  t.is(await S.page.evaluate(lowContrast), [], 'the sign-in screen too');

  // --- private, password, invite, leave ---------------------------------------------------------
  const create = async (page, name, access, password) => {
    await page.getByRole('button', { name: 'Create a channel' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.getByRole('textbox', { name: 'Name' }).fill(name);
    await dlg.getByRole('radio', { name: new RegExp(`^${access}`, 'i') }).check();
    if (password) await dlg.getByLabel('Channel password').fill(password);
    await dlg.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 2, name: `#${name}` }).waitFor();
  };
  await create(a, 'secret', 'private');
  t.is(await C.entryName(a, 'secret'), 'secret', 'a private channel created from the dialog');
  const B = await C.openPage(browser, bob);
  const b = B.page;
  await C.signIn(b, 'bob');
  await b.getByRole('textbox', { name: 'Channel name' }).fill('secret');
  await b.getByRole('button', { name: 'Join', exact: true }).click();
  await b.getByRole('alert').filter({ hasText: /invite/ }).waitFor();
  t.ok(true, 'bob cannot join it uninvited: the reason shows under the box');
  await a.getByRole('button', { name: 'Invite' }).click();
  await a.getByRole('dialog').getByRole('combobox', { name: 'Person' }).fill('bob');
  await a.getByRole('dialog').getByRole('button', { name: 'Invite' }).click();
  await a.getByRole('dialog').getByRole('status').filter({ hasText: 'bob is invited' }).waitFor();
  t.ok(true, 'alice invites bob');
  await a.keyboard.press('Escape');
  await C.join(b, 'secret');
  t.ok(true, 'invited, bob joins the private channel');

  await create(a, 'vault', 'password', 'open sesame');
  await b.getByRole('textbox', { name: 'Channel name' }).fill('vault');
  await b.getByRole('button', { name: 'Join', exact: true }).click();
  const pw = b.getByRole('textbox', { name: 'Channel password' });
  await pw.waitFor();
  t.ok(await b.getByRole('alert').filter({ hasText: 'needs a password' }).isVisible(), 'a password channel asks for its password');
  await pw.fill('wrong');
  await b.getByRole('button', { name: 'Join', exact: true }).click();
  await b.getByRole('alert').filter({ hasText: 'wrong channel password' }).waitFor();
  t.ok(true, 'a wrong one is refused inline');
  await pw.fill('open sesame');
  await b.getByRole('button', { name: 'Join', exact: true }).click();
  await C.entry(b, 'vault').waitFor();
  t.ok(true, 'the right one lets bob in');
  await b.getByRole('button', { name: 'Leave' }).click();
  await b.getByRole('dialog').getByRole('button', { name: 'Leave' }).click();
  await C.entry(b, 'vault').waitFor({ state: 'detached' });
  t.ok(true, 'bob leaves it: gone from his channels');
  const left = (await bob.api('GET', '/channels')).body.channels.map((c) => c.name);
  t.ok(!left.includes('vault') && left.includes('secret'), "... and from his peer's (secret stays)");

  // --- phone width --------------------------------------------------------------------------
  const P = await C.openPage(browser, bob, { viewport: { width: 390, height: 844 } });
  const p = P.page;
  await C.signIn(p, 'bob');
  t.ok(await C.nav(p).isVisible() && await C.log(p).isHidden(), 'phone: signed in, the channel list alone');
  await C.shot(t, p, 'phone-list');
  await C.entry(p, 'general').click();
  await C.article(p, 'a message from bob').waitFor();
  t.ok(await C.log(p).isVisible() && await C.nav(p).isHidden(), 'a channel opens the messages alone');
  const fits = await p.evaluate(() => document.documentElement.scrollWidth <= innerWidth);
  t.ok(fits, '... that fit the width (no sideways scrolling)');
  await C.open(a, 'general');
  await C.send(p, 'from my phone');
  await C.article(a, 'from my phone').waitFor();
  t.ok(true, 'sending works at phone width');
  await C.shot(t, p, 'phone');
  await p.getByRole('button', { name: 'Show people' }).click();
  t.ok(await C.people(p).isVisible() && await C.log(p).isHidden(), 'People as a pane of its own');
  await p.getByRole('button', { name: 'Close people' }).click();
  t.ok(await C.log(p).isVisible(), '... closed: back to the messages');
  await p.getByRole('button', { name: 'Back to channels' }).click();
  t.ok(await C.nav(p).isVisible() && await C.log(p).isHidden(), 'the back control returns to the list');

  // --- too many attempts: the wait ---------------------------------------------------------------
  const s = S.page;
  let limited = null;
  for (let i = 0; i < 6 && !limited; i++) {
    await s.getByRole('textbox', { name: 'Username' }).fill('carol');
    await s.getByRole('textbox', { name: 'Password' }).fill(`nope ${i}`);
    await s.getByRole('button', { name: 'Sign in' }).click();
    const msg = await lib.until(async () => {
      const e = s.getByRole('alert');
      return (await e.isVisible()) && (await s.getByRole('button', { name: 'Signing in…' }).count()) === 0
        && (await e.textContent());
    }, { what: 'an answer to the sign-in' });
    if (/Too many/.test(msg)) limited = msg;
    else await s.getByRole('alert').filter({ hasText: 'Wrong' }).waitFor();
  }
  t.like(limited || '', /^Too many failed attempts\. Wait \d+ seconds, then try again\.$/, 'too many attempts: the wait is said inline');
  const wait = s.getByRole('button', { name: /^Try again in \d+ s$/ });
  t.ok(await wait.isDisabled(), '... and the button counts it down, disabled');
  await C.shot(t, s, 'signin-limited');

  for (const x of [A, B, D, S, P]) C.checkPage(t, x);
});
