'use strict';
// chat_browser.js - two users chat through their own peers' pages, in two
// browser contexts of headless Chromium: sign-in, join, messages both ways
// live, delivery states, unread counts and the title for a background
// channel, a direct conversation opened from People, a reload, desktop
// notifications (only while hidden, asked on a click, never for one's own
// messages), a stopped peer (the "Reconnecting" banner) and its restart
// (the catch-up), and a failed send retried with the same client_id.

const path = require('path');
const { test } = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'lib.js'));
const C = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'chat.js'));

// A Notification the test can see, and a switch for document.hidden.
function fakeNotifications() {
  const seen = { requested: 0, shown: [] };
  let permission = 'default';
  let hidden = false;
  window.__notes = seen;
  window.Notification = class {
    constructor(title, opts) { seen.shown.push({ title, body: opts && opts.body }); }
    static get permission() { return permission; }
    static requestPermission() { seen.requested++; permission = 'granted'; return Promise.resolve(permission); }
    close() {}
  };
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  window.__setHidden = (h) => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
}

test(async (t, lib) => {
  const chat = await lib.startChat({ users: ['alice', 'bob'] });
  const { alice, bob } = chat.peers;
  const browser = await lib.launch();
  const A = await C.openPage(browser, alice);
  await A.ctx.addInitScript(fakeNotifications);
  await A.page.reload();
  const B = await C.openPage(browser, bob);
  const a = A.page;
  const b = B.page;

  // --- sign in, join ---------------------------------------------------------
  await a.getByRole('textbox', { name: 'Username' }).waitFor();
  t.is(await a.title(), 'Sign in — WeApRous', 'signed out: the sign-in screen');
  await C.shot(t, a, 'signin');
  await C.signIn(a, 'alice');
  await C.signIn(b, 'bob');
  t.ok(await C.nav(a).isVisible(), 'alice signed in: the Channels navigation');
  await C.join(a, 'general');
  await C.join(b, 'general');
  t.ok(await C.entry(b, 'general').isVisible(), 'bob joined #general with the Channel name box');
  const csp = (await (await fetch(alice.url('/'))).headers.get('content-security-policy')) || '';
  t.like(csp, /script-src 'self'/, 'the page comes with a CSP that allows no inline script');

  // --- both ways, live ---------------------------------------------------------
  await C.send(a, 'hello bob, this is alice');
  await C.article(b, 'hello bob, this is alice').waitFor();
  t.ok(true, "alice's message appears on bob's page without a reload");
  t.like(await C.article(b, 'hello bob, this is alice').textContent(), /alice/, '... with the sender');
  await C.send(b, 'hi alice!');
  await C.article(a, 'hi alice!').waitFor();
  t.like(await C.article(a, 'hi alice!').textContent(), /bob/, "bob's answer appears on alice's page");
  await C.article(a, 'hello bob, this is alice').getByText('Delivered to 1 of 1').waitFor();
  t.ok(true, "alice's own message shows its state: delivered to 1 of 1");
  t.is(await C.composer(a).inputValue(), '', 'Enter sent the message and cleared the box');
  await C.composer(a).fill('line one');
  await C.composer(a).press('Shift+Enter');
  await C.composer(a).type('line two');
  t.is(await C.composer(a).inputValue(), 'line one\nline two', 'Shift+Enter makes a new line');
  await C.composer(a).press('Enter');
  await C.article(b, 'line two').waitFor();
  t.is((await C.texts(b)).slice(-1)[0], 'line one\nline two', '... and the line break arrives');

  // --- a background channel: unread counts, the title ---------------------------
  await a.getByRole('button', { name: 'Create a channel' }).click();
  await a.getByRole('dialog').getByRole('textbox', { name: 'Name' }).fill('random');
  await a.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
  await C.entry(a, 'random').waitFor();
  await C.join(b, 'random');
  await C.open(b, 'general');
  t.is(await b.title(), '#general — WeApRous', "bob's title: the open channel");
  await C.send(a, 'first in random');
  await C.send(a, 'second in random');
  await lib.until(async () => (await C.entryName(b, 'random')) === 'random, 2 unread',
    { what: 'random, 2 unread', describe: () => 'another name' }).catch(async (e) => {
    t.diag(`bob's entry: ${await C.entryName(b, 'random')}`);
    throw e;
  });
  t.ok(true, "bob's entry for the background channel: 'random, 2 unread'");
  t.is(await b.title(), '(2) #general — WeApRous', "bob's title counts the unread messages");
  await C.open(b, 'random');
  await b.getByRole('separator', { name: 'New messages' }).waitFor();
  const order = await b.$$eval('[role="log"] .log-items > *', (ns) => ns.map((n) =>
    (n.matches('.divider') ? 'DIVIDER' : n.querySelector('.msg-text') ? n.querySelector('.msg-text').textContent : '')).filter(Boolean));
  t.is(order.slice(order.indexOf('DIVIDER')), ['DIVIDER', 'first in random', 'second in random'],
    'the "New messages" line sits before the first unread message');
  await lib.until(async () => (await C.entryName(b, 'random')) === 'random', { what: 'the count cleared' });
  t.is(await b.title(), '#random — WeApRous', 'opened and seen: no unread left, the title follows');
  const conv = (await bob.api('GET', '/channels')).body.channels.find((c) => c.name === 'random');
  t.is(conv && conv.unread, 0, "bob's peer moved the read marker (unread 0)");

  // --- a direct conversation from People ------------------------------------------
  await C.people(a).getByRole('button', { name: /^bob,/ }).click();
  await a.getByRole('heading', { level: 2, name: 'bob', exact: true }).waitFor();
  t.ok(true, 'clicking bob in People opens the direct conversation');
  await C.send(a, 'psst, just between us');
  await lib.until(async () => (await C.entryName(b, 'alice')) === 'alice, 1 unread', { what: 'bob: alice, 1 unread' });
  t.ok(true, "bob's Channels list shows the conversation with alice, 1 unread");
  t.is(await b.title(), '(1) #random — WeApRous', "bob's title counts the direct message");
  await C.open(b, 'alice');
  await C.article(b, 'psst, just between us').waitFor();
  t.ok(true, 'bob reads the direct message');
  await C.send(b, 'ok, noted');
  await C.article(a, 'ok, noted').waitFor();
  t.ok(true, "bob's answer in the direct conversation reaches alice");
  await C.article(a, 'psst, just between us').getByText('Delivered').waitFor();
  await C.shot(t, a, 'dm');

  const dmUnread = async () => ((await alice.api('GET', '/channels')).body.channels
    .find((c) => c.name === 'dm:alice:bob') || {}).unread;
  await lib.until(async () => (await dmUnread()) === 0, { what: 'alice read the answer', describe: () => 'unread left' });
  t.ok(true, "alice's page moved her read marker: she saw the answer at the bottom");

  // --- reload: the history stays ----------------------------------------------------------
  await a.reload();
  await C.article(a, 'ok, noted').waitFor();
  t.ok(await C.article(a, 'psst, just between us').isVisible(), 'after a reload: still signed in, the conversation and its history');
  await C.open(a, 'general');
  await C.article(a, 'hi alice!').waitFor();
  t.ok(await C.article(a, 'hello bob, this is alice').isVisible(), '... and #general has its history too');
  await C.shot(t, a, 'channel');

  // --- notifications ------------------------------------------------------------------------
  t.is(await a.evaluate(() => window.__notes.requested), 0, 'no notification permission asked without a click');
  await a.getByRole('button', { name: 'Enable desktop notifications' }).click();
  await lib.until(() => a.evaluate(() => window.__notes.requested === 1), { what: 'requestPermission' });
  t.ok(true, 'the permission is asked when the user clicks for it');
  await C.open(b, 'general');
  await C.send(b, 'seen while alice looks');
  await C.article(a, 'seen while alice looks').waitFor();
  await a.evaluate(() => window.__setHidden(true));
  await C.send(b, 'while alice is away');
  await lib.until(() => a.evaluate(() => window.__notes.shown.length > 0), { what: 'a notification' });
  await alice.api('POST', '/broadcast-peer', { channel: 'general', text: 'alice from another tab' });
  await C.article(a, 'alice from another tab').waitFor();
  t.is(await a.evaluate(() => window.__notes.shown), [{ title: 'bob in #general', body: 'while alice is away' }],
    "one notification: bob's message while the tab was hidden; none while visible, none for her own");
  t.like(await a.title(), /^\(1\) #general — WeApRous$/, 'hidden: the message counts as unread in the title')
    || t.diag(await a.$$eval('a.chan', (ns) => ns.map((n) => n.getAttribute('aria-label')).join(' | ')));
  await a.evaluate(() => window.__setHidden(false));
  await lib.until(async () => (await a.title()) === '#general — WeApRous', { what: 'title without count' });
  t.ok(true, 'visible again at the bottom: read, the title loses its count');

  // --- a stopped peer: the banner; restarted: the catch-up -----------------------------------------
  t.is(await C.banner(a).count(), 0, 'no "Reconnecting" banner while the socket is up');
  await C.people(b).getByRole('button', { name: 'alice, online · direct link' }).waitFor();
  t.ok(true, "bob's People: alice online, with a direct link (green dot)");
  await alice.stop();
  await C.banner(a).waitFor();
  t.ok(true, "alice's peer stopped: a status \"Reconnecting…\" banner");
  await C.shot(t, a, 'reconnecting');
  await C.people(b).getByRole('button', { name: /^alice, last seen/ }).waitFor({ timeout: 40000 });
  t.ok(true, "bob's People: alice offline, with her last-seen time (the tracker's heart-beats)");
  await C.send(b, 'sent while your peer was down');
  await C.article(b, 'sent while your peer was down').getByText(/Pending|Sent/).waitFor();
  await alice.restart();
  await C.banner(a).waitFor({ state: 'detached', timeout: 20000 });
  t.ok(true, 'restarted: the banner goes away (reconnected with backoff)');
  await C.article(a, 'sent while your peer was down').waitFor({ timeout: 30000 });
  t.ok(true, 'the message sent meanwhile appears (catch-up)');
  await C.people(b).getByRole('button', { name: /^alice, online/ }).waitFor();
  t.ok(true, "bob's People: alice online again");
  await C.article(b, 'sent while your peer was down').getByText('Delivered to 1 of 1').waitFor({ timeout: 30000 });
  t.ok(true, "... and bob's copy turns delivered");

  // --- a failed send, retried once: the same client_id -------------------------------------------
  const bodies = [];
  let fail = true;
  await a.route('**/broadcast-peer', async (route) => {
    bodies.push(JSON.parse(route.request().postData()));
    if (fail) {
      fail = false;
      await route.abort('connectionrefused');
    } else {
      await route.continue();
    }
  });
  await C.send(a, 'retry me please');
  const mine = C.article(a, 'retry me please');
  await mine.getByRole('button', { name: 'Retry' }).waitFor();
  t.like(await mine.textContent(), /Not sent/, 'the send failed: the message says so and offers Retry');
  await mine.getByRole('button', { name: 'Retry' }).click();
  await mine.getByText(/Sent|Delivered/).waitFor();
  await C.article(b, 'retry me please').waitFor();
  t.is(bodies.length, 2, 'one retry: two requests');
  t.ok(bodies.length === 2 && bodies[0].client_id && bodies[0].client_id === bodies[1].client_id,
    '... with the same client_id');
  t.is(await C.article(a, 'retry me please').count(), 1, 'alice sees it once');
  t.is(await C.article(b, 'retry me please').count(), 1, 'bob receives it once');

  // the answer lost after the peer stored it: shown once, never as failed
  await a.unroute('**/broadcast-peer');
  await a.route('**/broadcast-peer', async (route) => {
    await route.fetch();
    await route.abort('connectionreset');
  }, { times: 1 });
  await C.send(a, 'stored but unanswered');
  await C.article(a, 'stored but unanswered').getByText(/Sent|Delivered/).waitFor();
  t.is(await C.article(a, 'stored but unanswered').count(), 1,
    'an answer lost after the peer stored the message: the event shows it, once, as sent');
  const hist = (await alice.api('GET', '/channels/general/messages?limit=500')).body.messages;
  t.is(hist.filter((m) => m.text === 'retry me please').length, 1, "alice's peer stored the retried message once");

  C.checkPage(t, A);
  C.checkPage(t, B);
});
