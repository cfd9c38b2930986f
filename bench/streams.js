// Opens N concurrent streaming chat completions (one connection each) and reports per-stream timings as JSON.
//
//   node bench/streams.js '{"url": "http://127.0.0.1:8080/v1/chat/completions", "n": 1000,
//                           "headers": {...}, "body": "...", "timeout_ms": 60000}'
//
// For each stream: the time to the response headers, to the first SSE `data:` line with content, to the end,
// the HTTP status, the number of `data:` events, and whether `data: [DONE]` arrived. Written in Node so that a
// thousand streams cost the client little CPU on a machine it shares with the gateway.
'use strict';
const http = require('http');

const cfg = JSON.parse(process.argv[2]);
const url = new URL(cfg.url);
const n = cfg.n || 1000;
const timeoutMs = cfg.timeout_ms || 60000;
const body = Buffer.from(cfg.body);
const headers = Object.assign({ 'content-type': 'application/json', 'content-length': body.length,
  accept: 'text/event-stream' }, cfg.headers || {});
const results = new Array(n);
let finished = 0;
const t0 = process.hrtime.bigint();
const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;

function done(i, r) {
  if (results[i]) return;
  results[i] = r;
  finished++;
  if (finished === n) report();
}

function report() {
  clearTimeout(killer);
  // exit only once the pipe has taken everything (a pipe write is asynchronous)
  process.stdout.write(JSON.stringify({ wall_ms: ms(), results }) + '\n', () => process.exit(0));
}

const killer = setTimeout(() => {
  for (let i = 0; i < n; i++) if (!results[i]) results[i] = { error: 'timeout' };
  report();
}, timeoutMs);

for (let i = 0; i < n; i++) {
  const start = ms();
  const r = { start_ms: start, status: 0, headers_ms: null, first_data_ms: null, end_ms: null, events: 0,
    done: false, bytes: 0, error: null };
  let tail = '';
  let last = '';
  const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search,
    method: 'POST', headers, agent: false }, (res) => {
    r.status = res.statusCode;
    r.headers_ms = ms() - start;
    res.setEncoding('utf8');
    res.on('data', (d) => {
      r.bytes += d.length;
      const text = tail + d;
      let idx = 0;
      for (;;) {
        const j = text.indexOf('data:', idx);
        if (j < 0) break;
        if (r.first_data_ms === null) r.first_data_ms = ms() - start;
        r.events++;
        idx = j + 5;
      }
      tail = text.slice(Math.max(idx, text.length - 4));
      const win = last + d;
      if (!r.done && win.includes('data: [DONE]')) r.done = true;
      last = win.slice(-16);
    });
    res.on('end', () => { r.end_ms = ms() - start; done(i, r); });
    res.on('error', (e) => { r.error = String(e.code || e.message); r.end_ms = ms() - start; done(i, r); });
  });
  req.on('error', (e) => { r.error = String(e.code || e.message); r.end_ms = ms() - start; done(i, r); });
  req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
  req.end(body);
}
