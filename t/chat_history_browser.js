'use strict';
// chat_history_browser.js - the message window in headless Chromium: 500
// messages of history read upwards page by page without the view moving,
// a new message while the reader is up there (a "1 new message" button, no
// jump, no read marker), the "New messages" line, text that looks like
// HTML shown as text, links, and the 4000-byte limit shown before it is hit.

const path = require('path');
const { test } = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'lib.js'));
const C = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'chat.js'));

const HISTORY = 500;

// Where the text of message `text` is, relative to the log's top edge.
function place(page, text) {
  return page.evaluate((t) => {
    const log = document.querySelector('[role="log"]');
    const n = [...log.querySelectorAll('article .msg-text')].find((x) => x.textContent === t);
    return n ? Math.round(n.getBoundingClientRect().top - log.getBoundingClientRect().top) : null;
  }, text);
}

const count = (page) => page.locator('[role="log"] article').count();

test(async (t, lib) => {
  const chat = await lib.startChat({ users: ['alice', 'bob'] });
  const { alice, bob } = chat.peers;
  for (const p of [alice, bob]) await p.api('POST', '/add-list', { channel: 'general' });
  await bob.api('POST', '/add-list', { channel: 'dev' });
  await alice.api('POST', '/add-list', { channel: 'dev' });
  for (let i = 1; i <= HISTORY; i++) {
    const r = await bob.api('POST', '/broadcast-peer', { channel: 'general', text: `history ${i}` });
    if (r.status !== 201) throw new Error(`broadcast ${i}: ${r.status} ${r.text}`);
  }
  const newest = await lib.until(async () => {
    const m = (await alice.api('GET', '/channels/general/messages?limit=1')).body.messages[0];
    return m && m.text === `history ${HISTORY}` && m;
  }, { ms: 60000, what: `alice's peer holding all ${HISTORY} messages` });
  // seen before: the window opens at the bottom, with pages of 50
  await alice.api('POST', '/channels/general/read', { up_to: newest.id });

  const browser = await lib.launch();
  const A = await C.openPage(browser, alice);
  const a = A.page;
  await C.signIn(a, 'alice');
  await C.open(a, 'general');
  await C.article(a, `history ${HISTORY}`).waitFor();
  const first = await count(a);
  t.ok(first >= 50 && first < HISTORY, `the window opens with the newest page (${first} messages)`);
  t.ok(await C.article(a, `history ${HISTORY}`).isVisible(), '... at the bottom: the newest message in view');
  t.ok(await a.evaluate(() => { const s = document.querySelector('[role="log"]'); return s.scrollHeight - s.scrollTop - s.clientHeight < 40; }),
    '... scrolled to the end');

  // --- 500 messages upwards, page by page ---------------------------------------------
  let jumps = [];
  let pages = 0;
  for (let n = await count(a); n < HISTORY; pages++) {
    const top = await a.evaluate(() => document.querySelector('[role="log"] article .msg-text').textContent);
    const before = await a.evaluate((t) => {
      const log = document.querySelector('[role="log"]');
      log.scrollTop = 0;        // the reader reaches the top
      const el = [...log.querySelectorAll('article .msg-text')].find((x) => x.textContent === t);
      return Math.round(el.getBoundingClientRect().top - log.getBoundingClientRect().top);
    }, top);
    await lib.until(async () => (await count(a)) > n, { what: `a page older than ${top}`, describe: () => `${n} messages` });
    n = await count(a);
    const after = await place(a, top);
    if (after === null || Math.abs(after - before) > 1) jumps.push(`${top}: ${before} -> ${after}`);
    if (pages > 20) break;
  }
  t.is(await count(a), HISTORY, `every message loaded by scrolling up (${pages} pages)`);
  t.is(jumps, [], 'after each page the message the reader was at stays where it was (no jump)');
  const all = await C.texts(a);
  t.is(all.join('|'), Array.from({ length: HISTORY }, (_, i) => `history ${i + 1}`).join('|'),
    'the history in order, oldest first, each message once');
  await a.getByRole('heading', { name: 'Welcome to #general' }).waitFor();
  t.ok(true, 'the top of the history says it is the beginning of #general');
  t.like(await C.article(a, /history 1$/).textContent(), /bob/, 'messages show their sender');
  const heads = await a.$$eval('[role="log"] article', (ns) => ns.filter((n) => !n.classList.contains('cont')).length);
  t.ok(heads < HISTORY / 2, `messages of one author in a row are grouped (${heads} groups for ${HISTORY})`);
  t.ok(await a.getByRole('separator', { name: 'Today' }).isVisible(), 'a day separator');

  // --- a new message while reading old ones: no jump, a pill, no read marker ------------------
  const reading = 'history 100';
  await a.evaluate((t) => {
    const log = document.querySelector('[role="log"]');
    const el = [...log.querySelectorAll('article .msg-text')].find((x) => x.textContent === t);
    log.scrollTop += el.getBoundingClientRect().top - log.getBoundingClientRect().top - 200;
  }, reading);
  const was = await place(a, reading);
  const reads = [];
  a.on('request', (r) => { if (r.url().includes('/read')) reads.push(r.url()); });
  await bob.api('POST', '/broadcast-peer', { channel: 'general', text: 'fresh news' });
  const pill = a.getByRole('button', { name: '1 new message' });
  await pill.waitFor();
  t.ok(true, 'a new message below the view: a "1 new message" button');
  t.is(await place(a, reading), was, '... and the message being read did not move');
  t.ok(await lib.holds(() => reads.length === 0), 'no read marker moved while reading above');
  await pill.click();
  await lib.until(async () => (await a.evaluate(() => { const s = document.querySelector('[role="log"]'); return s.scrollHeight - s.scrollTop - s.clientHeight < 40; })),
    { what: 'the log at its bottom' });
  await C.article(a, 'fresh news').waitFor();
  await lib.until(() => reads.length > 0, { what: 'a read marker request' });
  const unread = async (name) => (await alice.api('GET', '/channels')).body.channels.find((c) => c.name === name).unread;
  await lib.until(async () => (await unread('general')) === 0, { what: 'general read' });
  t.ok(await pill.isHidden(), 'the button took the reader to the bottom and went away; the read marker followed');
  await C.shot(t, a, 'history');

  // --- the "New messages" line -----------------------------------------------------------------
  for (const text of ['dev one', 'dev two', 'dev three']) await bob.api('POST', '/broadcast-peer', { channel: 'dev', text });
  await lib.until(async () => (await C.entryName(a, 'dev')) === 'dev, 3 unread', { what: 'dev, 3 unread' });
  await C.open(a, 'dev');
  const want = ['[Today]', '[New messages]', 'dev one', 'dev two', 'dev three'];
  const items = () => a.$$eval('[role="log"] .log-items > *', (ns) => ns.map((n) => (n.getAttribute('role') === 'separator' ? `[${n.getAttribute('aria-label')}]` : n.querySelector('.msg-text') ? n.querySelector('.msg-text').textContent : '?')));
  let line = await items();
  try { await lib.until(async () => JSON.stringify(line = await items()) === JSON.stringify(want), { what: 'the New messages line' }); } catch (e) { /* t.is prints what was seen */ }
  t.is(line, want, 'the "New messages" line at the read marker');

  // --- text is text ---------------------------------------------------------------------------------
  const evil = '<img src=x onerror=alert(1)>';
  const mixed = '<b>not bold</b> & see https://example.org/a?b=1&c=2, or javascript:alert(2)';
  await bob.api('POST', '/broadcast-peer', { channel: 'dev', text: evil });
  await bob.api('POST', '/broadcast-peer', { channel: 'dev', text: mixed });
  await C.article(a, 'not bold').waitFor();
  t.is(await C.article(a, 'onerror').locator('.msg-text').textContent(), evil, 'an HTML-looking message shows exactly its characters');
  t.is(await a.locator('[role="log"] img, [role="log"] b').count(), 0, '... and makes no element');
  const link = C.article(a, 'not bold').getByRole('link');
  t.is(await link.count(), 1, 'one link: the http URL (not javascript:)');
  t.is(await link.getAttribute('href'), 'https://example.org/a?b=1&c=2', '... to the URL, without the comma after it');
  t.is(await link.getAttribute('rel'), 'noopener noreferrer', '... rel="noopener noreferrer"');
  t.is(await C.article(a, 'not bold').locator('.msg-text').textContent(), mixed, 'the text around it unchanged');

  // --- the 4000-byte limit ----------------------------------------------------------------------------
  const box = C.composer(a);
  const count4000 = a.locator('#composer-count');
  const big = '€'.repeat(1000) + 'x'.repeat(1000);       // 4000 bytes, 2000 characters
  await box.fill('y'.repeat(3000));
  t.is(await count4000.textContent(), '', 'well under the limit: no counter');
  await box.fill(big.slice(0, -200));
  t.like(await count4000.textContent(), /^200 bytes left$/, 'near the limit the bytes left show');
  await box.fill(`${big}z`);
  t.like(await count4000.textContent(), /^1 byte over the limit of 4000$/, 'one byte over: the counter says so');
  t.ok(await a.getByRole('button', { name: 'Send' }).isDisabled(), '... and Send is off');
  await box.press('Enter');
  t.is(await box.inputValue(), `${big}z`, '... and Enter does not send');
  await box.fill(big);
  t.like(await count4000.textContent(), /^0 bytes left$/, 'exactly 4000 bytes: allowed');
  await box.press('Enter');
  await C.article(a, 'x'.repeat(1000)).getByText(/Sent|Delivered/).waitFor();
  t.is((await C.texts(a)).slice(-1)[0], big, 'the 4000-byte message is shown whole');
  const got = await lib.until(async () => (await bob.api('GET', '/channels/dev/messages?limit=1')).body.messages
    .find((m) => m.text.length === big.length), { what: 'bob holding the long message' });
  t.is(got.text, big, 'bob receives all 4000 bytes');

  // --- a page that cannot be read: said, and tried again on request ---------------------------------
  await alice.api('POST', '/add-list', { channel: 'ops' });
  await bob.api('POST', '/add-list', { channel: 'ops' });
  await bob.api('POST', '/broadcast-peer', { channel: 'ops', text: 'ops report' });
  await lib.until(async () => (await alice.api('GET', '/channels/ops/messages')).body.messages.length === 1,
    { what: "alice's peer holding the ops report" });
  await a.reload();
  await C.entry(a, 'ops').waitFor();
  await a.route('**/channels/ops/messages*', (route) => route.abort('connectionreset'), { times: 1 });
  await C.open(a, 'ops');
  const again = C.log(a).getByRole('button', { name: 'Try again' });
  await again.waitFor();
  t.like(await C.log(a).textContent(), /could not be loaded/, 'a history page that fails: the window says so');
  await again.click();
  await C.article(a, 'ops report').waitFor();
  t.ok(true, '... and Try again reads it');

  C.checkPage(t, A);
});
