// client.js - an independent WebSocket client (the WHATWG WebSocket of
// node >= 22, or node 20 with --experimental-websocket) against ws_echo.
// Usage: node client.js PORT.  Prints TAP.
'use strict';

const port = process.argv[2];
let n = 0, failed = 0;
function ok(cond, name) {
    n++;
    if (!cond) failed++;
    console.log((cond ? 'ok ' : 'not ok ') + n + ' - ' + name);
}

function open(path) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket('ws://127.0.0.1:' + port + path);
        ws.binaryType = 'arraybuffer';
        ws.queue = [];
        ws.waiters = [];
        ws.onmessage = (ev) => {
            const w = ws.waiters.shift();
            if (w) w(ev.data); else ws.queue.push(ev.data);
        };
        ws.onopen = () => resolve(ws);
        ws.onerror = (e) => reject(new Error('websocket error ' + path));
    });
}

function next(ws, ms = 5000) {
    if (ws.queue.length) return Promise.resolve(ws.queue.shift());
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message')), ms);
        ws.waiters.push((d) => { clearTimeout(timer); resolve(d); });
    });
}

function closed(ws) {
    return new Promise((resolve) => { ws.onclose = (ev) => resolve(ev); });
}

async function main() {
    if (typeof WebSocket === 'undefined') {
        console.log('1..0 # SKIP no WebSocket in this node');
        return;
    }
    const ws = await open('/echo');
    ok(true, 'handshake accepted by a real client');
    const text = 'héllo wörld ☃ 𝄞';
    ws.send(text);
    ok(await next(ws) === text, 'text echo with multi-byte characters');
    const big = new Uint8Array(100000).map((_, i) => (i * 7) & 255);
    ws.send(big);
    const back = new Uint8Array(await next(ws));
    ok(back.length === big.length && back.every((v, i) => v === big[i]),
       'binary echo of 100000 bytes (64-bit length)');
    const mid = 'x'.repeat(70000);
    ws.send(mid);
    ok(await next(ws) === mid, 'text echo of 70000 bytes');
    ws.send('');
    ok(await next(ws) === '', 'empty message echo');

    const a = await open('/room'), b = await open('/room');
    await new Promise((r) => setTimeout(r, 50));
    a.send('to the room');
    ok(await next(b) === 'to the room', 'broadcast reaches the other member');

    const done = closed(ws);
    ws.close(1000, 'done');
    const ev = await done;
    ok(ev.code === 1000 && ev.wasClean, 'clean close handshake (' + ev.code + ')');
    a.close(); b.close();

    const tooBig = await open('/echo');
    const gone = closed(tooBig);
    tooBig.send('y'.repeat(300000));
    const ev2 = await gone;
    ok(ev2.code === 1009, 'oversize message closed with 1009 (' + ev2.code + ')');
}

main().then(() => {
    console.log('1..' + n);
    process.exit(failed ? 1 : 0);
}, (e) => {
    ok(false, 'exception: ' + e.message);
    console.log('1..' + n);
    process.exit(1);
});
