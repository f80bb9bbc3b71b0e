'use strict';
// Browser smoke test: headless Chromium loads a page from `weaprous backend`
// whose stylesheet and script come from the static root (the MIME type picks
// the root), runs the script, applies the style, and sees a 404 for a
// missing page.  Also proves the browser test kit (t/browser/lib.js) works.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { test } = require(path.join(process.env.WR_SRCDIR, 't', 'browser', 'lib.js'));

function tree() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wrsmoke-'));
  const files = {
    'www/smoke.html': '<!doctype html><html><head><title>smoke</title>' +
      '<link rel="stylesheet" href="/css/site.css"><script src="/js/app.js"></script>' +
      '</head><body><p id="p">static</p></body></html>',
    'static/css/site.css': '#p { color: rgb(1, 2, 3); }',
    'static/js/app.js': 'addEventListener("DOMContentLoaded", () => ' +
      '{ document.getElementById("p").textContent = "scripted"; });',
  };
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), body);
  }
  return root;
}

test(async (t, lib) => {
  const root = tree();
  const srv = await lib.startServer('backend',
    ['--www', path.join(root, 'www'), '--static', path.join(root, 'static'),
      '--db', path.join(root, 'w.db')]);
  const browser = await lib.launch();
  const page = await browser.newPage();
  // "/" is behind the login (login_browser.js); a public page here.
  const resp = await page.goto(srv.url('/smoke.html'));
  t.is(resp.status(), 200, 'GET /smoke.html answers 200 in the browser');
  t.is(await page.title(), 'smoke', 'the index page from www/ is shown');
  t.is(await page.textContent('#p'), 'scripted', 'script from static/js ran');
  t.is(await page.$eval('#p', (e) => getComputedStyle(e).color), 'rgb(1, 2, 3)',
    'stylesheet from static/css applied');
  const missing = await page.goto(srv.url('/no-such-page.html'));
  t.is(missing.status(), 404, 'a missing page is 404');
  fs.rmSync(root, { recursive: true, force: true });
});
