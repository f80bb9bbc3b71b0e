'use strict';
// login_browser.js - the assignment's Task 1A/1B in a real browser (headless
// Chromium): the protected index shows the login form, a wrong password
// gets the 401 page, the right one the index with both cookies (session
// HttpOnly, SameSite=Lax), a reload keeps the session, sign-out ends it.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { test } = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'lib.js'));

test(async (t, lib) => {
  const src = process.env.WR_SRCDIR || '.';
  const db = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wrlogin-')), 'w.db');
  const srv = await lib.startServer('backend', ['--www', path.join(src, 'www'),
    '--static', path.join(src, 'static'), '--db', db]);
  const browser = await lib.launch();
  const ctx = await browser.newContext();
  const page = await ctx.newPage();

  let resp = await page.goto(srv.url('/'));
  t.is(resp.status(), 401, 'GET / without a session -> 401');
  t.ok(await page.isVisible('form[action="/login"] input[name="username"]'),
    'the 401 page carries the login form');
  const css = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
  t.ok(css && css.length > 0, 'the stylesheet from static/ applies');

  await page.fill('input[name="username"]', 'admin');
  await page.fill('input[name="password"]', 'wrong-password');
  [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"], input[type="submit"]')]);
  t.is(resp.status(), 401, 'wrong password -> 401 page');
  t.is((await ctx.cookies()).filter((c) => c.name === 'session').length, 0, 'no session cookie after a failure');

  await page.fill('input[name="username"]', 'admin');
  await page.fill('input[name="password"]', 'password');
  [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"], input[type="submit"]')]);
  t.is(resp.status(), 200, 'right password -> 200');
  t.ok(await page.isVisible('form[action="/logout"]'), 'the index page (with its sign-out button) is shown');
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === 'session');
  const auth = cookies.find((c) => c.name === 'auth');
  t.ok(session && /^[0-9a-f]{64}$/.test(session.value), 'session cookie holds a 256-bit token');
  t.ok(session && session.httpOnly, 'session cookie is HttpOnly');
  t.is(session && session.sameSite, 'Lax', 'session cookie is SameSite=Lax');
  t.is(auth && auth.value, 'true', 'auth=true cookie set (the assignment\'s)');
  t.is(await page.evaluate(() => document.cookie.includes('session=')), false,
    'page scripts cannot read the session cookie');

  resp = await page.reload();
  t.is(resp.status(), 200, 'a reload keeps the session');
  resp = await page.goto(srv.url('/index.html'));
  t.is(resp.status(), 200, '/index.html with the session -> 200');

  await Promise.all([page.waitForNavigation(), page.click('form[action="/logout"] button')]);
  resp = await page.goto(srv.url('/'));
  t.is(resp.status(), 401, 'after sign-out GET / -> 401 again');
  t.is((await ctx.cookies()).filter((c) => c.name === 'session').length, 0, 'sign-out expired the session cookie');

  const forged = await browser.newContext();
  await forged.addCookies([{ name: 'auth', value: 'true', url: srv.url('/') }]);
  const p2 = await forged.newPage();
  resp = await p2.goto(srv.url('/'));
  t.is(resp.status(), 401, 'a forged bare auth=true cookie is not enough by default');
});
