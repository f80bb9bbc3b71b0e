'use strict';
// t/browser/demo_chat.js - run by t/demo.t while `weaprous demo` is up:
// alice and bob open their chats through the proxy, as a new user does
// (http://alice.localhost:8080/ and http://bob.localhost:8080/ in two
// tabs), sign in, find #general already joined, and exchange a message
// each way live.  Prints one line per step; exit 0 when every step passed,
// 1 at the first failure (with what was seen), 77 without playwright.

const path = require('path');
const lib = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'lib.js'));
const C = require(path.join(process.env.WR_SRCDIR || '.', 't', 'browser', 'chat.js'));

const through = (user) => ({ user, url: (p) => `http://${user}.localhost:8080${p}` });

async function main() {
  let browser;
  try {
    browser = await lib.launch();
  } catch (e) {
    console.log(`skip: ${e.message}`);
    return 77;
  }
  try {
    const A = await C.openPage(browser, through('alice'));
    const B = await C.openPage(browser, through('bob'));
    await C.signIn(A.page, 'alice');
    await C.signIn(B.page, 'bob');
    console.log('signed in through the proxy');
    await C.open(A.page, 'general');
    await C.open(B.page, 'general');
    console.log('#general is there already');
    await C.send(A.page, 'hi bob, through the demo');
    await C.article(B.page, 'hi bob, through the demo').waitFor();
    await C.send(B.page, 'hi alice, same here');
    await C.article(A.page, 'hi alice, same here').waitFor();
    console.log('a message each way, live');
    const errors = A.errors.concat(B.errors);
    if (errors.length) throw new Error(errors.join('; '));
    return 0;
  } catch (e) {
    console.log(`fail: ${e.message.split('\n')[0]}`);
    return 1;
  } finally {
    await browser.close();
  }
}

main().then((rc) => process.exit(rc));
