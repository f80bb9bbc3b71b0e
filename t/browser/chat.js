'use strict';
// t/browser/chat.js - driving the chat page (www/chat.html) the way its
// users and screen readers find it: by roles and accessible names.
//
//   const chat = await lib.startChat({ users: ['alice', 'bob'] });
//   const a = await openPage(t, browser, chat.peers.alice);
//   await signIn(a.page, 'alice');
//   await join(a.page, 'general');
//   await send(a.page, 'hello');
//   await article(a.page, 'hello').waitFor();
//
// Every page's uncaught errors are collected: checkPage() turns them into
// a failed test point.

const fs = require('fs');
const path = require('path');

const TIMEOUT_MS = 15000;    // per wait: an ASan build on 2 busy cores is slow

const nav = (page) => page.getByRole('navigation', { name: 'Channels' });
const log = (page) => page.getByRole('log', { name: 'Messages' });
const people = (page) => page.getByRole('region', { name: 'People' });
const composer = (page) => page.getByRole('textbox', { name: 'Message' });
const banner = (page) => page.getByRole('status').filter({ hasText: 'Reconnecting' });

// The conversation entry of the Channels landmark: its name begins with
// the channel's (or, for a direct conversation, the other user's) name.
const entry = (page, name) => nav(page).getByRole('link', { name: new RegExp(`^${name}(,|$)`) });

// The message (an article of the log) whose text contains `text`.
const article = (page, text) => log(page).getByRole('article').filter({ hasText: text });

// A new browser context on peer's page; uncaught page errors and dialogs
// are kept in p.errors.
async function openPage(browser, peer, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await ctx.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const p = { ctx, page, errors: [], user: peer.user };
  page.on('pageerror', (e) => p.errors.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => { p.errors.push(`dialog: ${d.type()} ${d.message()}`); d.dismiss().catch(() => {}); });
  await page.goto(peer.url('/'));
  return p;
}

async function signIn(page, user, password = user) {
  await page.getByRole('textbox', { name: 'Username' }).fill(user);
  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await nav(page).waitFor();
}

// Joins with the "Channel name" box and waits for its entry.
async function join(page, channel) {
  await page.getByRole('textbox', { name: 'Channel name' }).fill(channel);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await entry(page, channel).waitFor();
  await page.getByRole('heading', { name: `#${channel}`, exact: true }).waitFor();
}

async function open(page, name) {
  await entry(page, name).click();
  await page.getByRole('heading', { level: 2, name: new RegExp(`^#?${name}$`) }).waitFor();
}

async function send(page, text) {
  const box = composer(page);
  await box.fill(text);
  await box.press('Enter');
}

// The texts of the messages in the log, in order.
function texts(page) {
  return page.$$eval('[role="log"] article .msg-text', (ns) => ns.map((n) => n.textContent));
}

// The accessible name of a conversation entry ("general, 2 unread"), or
// null when there is none.
async function entryName(page, name) {
  const e = entry(page, name);
  return (await e.count()) ? e.getAttribute('aria-label') : null;
}

// Screenshots go to the build tree, t/chat-screenshots/NAME.png.
function shotPath(name) {
  const dir = path.join(process.env.WR_BUILDDIR || '.', 't', 'chat-screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}

async function shot(t, page, name) {
  const file = shotPath(name);
  await page.screenshot({ path: file });
  t.diag(`screenshot: ${file}`);
}

// A test point: no uncaught error or dialog on the page so far.
function checkPage(t, p) {
  if (!t.is(p.errors, [], `${p.user}'s page: no uncaught error, no dialog`)) return false;
  return true;
}

module.exports = {
  TIMEOUT_MS, nav, log, people, composer, banner, entry, article, openPage, signIn, join, open,
  send, texts, entryName, shot, shotPath, checkPage,
};
