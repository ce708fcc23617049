#!/usr/bin/env node
// A TCP proxy that delays every piece of data, each way, by MIN..MAX ms drawn anew
// (uniform), keeping the order: a host seen over a slow, jittery network.
//
//   node tests/browser/delay-proxy.mjs --to HOST:PORT --delay-ms MIN:MAX
//
// Prints "listening PORT" once it accepts connections on 127.0.0.1:PORT.

import net from 'node:net';

function parseArgs(argv) {
  const o = { to: null, lo: null, hi: null };
  for (let i = 0; i < argv.length; i++) {
    const [k, v0] = argv[i].split('=');
    const v = v0 !== undefined ? v0 : argv[++i];
    if (k === '--to') o.to = v;
    else if (k === '--delay-ms') [o.lo, o.hi] = v.split(':').map(Number);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!o.to || !(o.lo >= 0 && o.hi >= o.lo)) throw new Error('usage: delay-proxy.mjs --to HOST:PORT --delay-ms MIN:MAX');
  return o;
}

const o = parseArgs(process.argv.slice(2));
const [host, port] = [o.to.slice(0, o.to.lastIndexOf(':')), Number(o.to.slice(o.to.lastIndexOf(':') + 1))];

/** Serves the proxy on a free port of 127.0.0.1 and prints it. */
function delayProxy(lo, hi) {
  // Each direction is a queue of { at, chunk } (chunk null: the end), delivered in
  // order by one timer, so nothing overtakes and the end comes after the last byte.
  const pipe = (from, to) => {
    const queue = [];
    let last = 0;
    let timer = null;
    const drain = () => {
      timer = null;
      while (queue.length && queue[0].at <= Date.now()) {
        const { chunk } = queue.shift();
        if (to.destroyed) return;
        if (chunk === null) to.end();
        else to.write(chunk);
      }
      if (queue.length) timer = setTimeout(drain, Math.max(1, queue[0].at - Date.now()));
    };
    const push = (chunk) => {
      last = Math.max(last, Date.now() + lo + Math.random() * (hi - lo));
      queue.push({ at: last, chunk });
      if (!timer) timer = setTimeout(drain, Math.max(1, queue[0].at - Date.now()));
    };
    from.on('data', push);
    from.on('end', () => push(null));
    from.on('error', () => to.destroy());
  };
  // Half-open allowed both ways: a side's end travels through the queue like its data.
  let n = 0;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port, host, allowHalfOpen: true });
    if (process.env.DELAY_PROXY_LOG) {
      const id = ++n;
      const say = (what) => process.stderr.write(`proxy ${Date.now()} #${id} ${what}\n`);
      say('open');
      client.on('data', (d) => say(`client ${d.length}: ${String(d).split('\r\n')[0].slice(0, 80)}`));
      upstream.on('data', (d) => say(`upstream ${d.length}: ${String(d).split('\r\n')[0].slice(0, 40)}`));
      client.on('end', () => say('client end'));
      upstream.on('end', () => say('upstream end'));
      client.on('error', (e) => say(`client error ${e.message}`));
      upstream.on('error', (e) => say(`upstream error ${e.message}`));
      client.on('close', () => say('client close'));
      upstream.on('close', () => say('upstream close'));
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
}

delayProxy(o.lo, o.hi);
