// A fast OpenAI-compatible provider double for the benchmark (one Node.js process, 127.0.0.1 only).
//
//   node bench/double.js PORT            listens on 127.0.0.1:PORT, prints "listening PORT" when ready
//
// POST .../chat/completions  (any path ending so: /v1/chat/completions, /openai/v1/chat/completions...)
//   non-streaming: a chat.completion with usage, after `delay_ms`; when `delay_max_ms` is above `delay_ms`, after
//   a uniform random time between the two, drawn per request (upstreams do not answer in lockstep).
//   "stream": true: text/event-stream, chunked; after that delay a role chunk, then `chunks` content chunks
//   `chunk_delay_ms` apart, a finish chunk, a usage chunk (choices: []) when stream_options.include_usage is
//   true, then `data: [DONE]`.
// The behaviour comes from the current mode (set by the harness with POST /_bench/mode, so that it is the same
// whether the request comes straight from the load generator or through any gateway), overridden per request by
//   - the model name: "delay-50" (50 ms before the answer), "delaymax-80" (20-80 ms with delay-20), "chunks-20",
//     "chunkdelay-5", combinable: "delay-5.chunks-10.chunkdelay-5";
//   - the headers x-bench-delay-ms, x-bench-delay-max-ms, x-bench-chunks, x-bench-chunk-delay-ms (only when called
//     directly).
// GET /_bench/mode -> the mode; GET /_bench/stats -> counters; GET /healthz -> ok.
'use strict';
const http = require('http');

const port = parseInt(process.argv[2] || process.env.BENCH_DOUBLE_PORT || '18091', 10);
const mode = { delay_ms: 0, delay_max_ms: 0, chunks: 20, chunk_delay_ms: 0 };
const stats = { requests: 0, streams: 0, open_streams: 0, max_open_streams: 0, bad_requests: 0 };
const CREATED = 1732000000;
const CONTENT = 'Hello from the bench double.';
const USAGE = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19,
  prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };
const completionCache = new Map();

function completionBody(model) {
  let buf = completionCache.get(model);
  if (buf === undefined) {
    buf = Buffer.from(JSON.stringify({
      id: 'chatcmpl-bench', object: 'chat.completion', created: CREATED, model,
      choices: [{ index: 0, message: { role: 'assistant', content: CONTENT, refusal: null },
        logprobs: null, finish_reason: 'stop' }],
      usage: USAGE, system_fingerprint: 'fp_bench',
    }));
    if (completionCache.size < 1000) completionCache.set(model, buf);
  }
  return buf;
}

function chunk(model, choices, usage) {
  const c = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model,
    system_fingerprint: 'fp_bench', choices };
  if (usage !== undefined) c.usage = usage;
  return 'data: ' + JSON.stringify(c) + '\n\n';
}

function optionsFor(req, model) {
  const o = { delay_ms: mode.delay_ms, delay_max_ms: mode.delay_max_ms, chunks: mode.chunks,
    chunk_delay_ms: mode.chunk_delay_ms };
  const h = req.headers;
  if (h['x-bench-delay-ms'] !== undefined) o.delay_ms = Number(h['x-bench-delay-ms']) || 0;
  if (h['x-bench-delay-max-ms'] !== undefined) o.delay_max_ms = Number(h['x-bench-delay-max-ms']) || 0;
  if (h['x-bench-chunks'] !== undefined) o.chunks = Number(h['x-bench-chunks']) || 0;
  if (h['x-bench-chunk-delay-ms'] !== undefined) o.chunk_delay_ms = Number(h['x-bench-chunk-delay-ms']) || 0;
  if (typeof model === 'string') {
    for (const part of model.split(/[./:]/)) {
      const m = /^(delay|delaymax|chunks|chunkdelay)-(\d+(?:\.\d+)?)$/.exec(part);
      if (!m) continue;
      const v = Number(m[2]);
      if (m[1] === 'delay') o.delay_ms = v; else if (m[1] === 'delaymax') o.delay_max_ms = v;
      else if (m[1] === 'chunks') o.chunks = v; else o.chunk_delay_ms = v;
    }
  }
  if (o.delay_max_ms > o.delay_ms) o.delay_ms += Math.random() * (o.delay_max_ms - o.delay_ms);
  return o;
}

function later(ms, fn) {
  if (ms > 0) setTimeout(fn, ms); else fn();
}

function sendJson(res, status, obj) {
  const b = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
  res.end(b);
}

function completions(req, res, raw) {
  let body;
  try { body = JSON.parse(raw); } catch (e) { body = null; }
  if (!body || typeof body !== 'object') {
    stats.bad_requests++;
    return sendJson(res, 400, { error: { message: 'body is not JSON', type: 'invalid_request_error' } });
  }
  stats.requests++;
  const model = typeof body.model === 'string' ? body.model : 'bench';
  const o = optionsFor(req, model);
  if (!body.stream) {
    return later(o.delay_ms, () => {
      const b = completionBody(model);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length });
      res.end(b);
    });
  }
  stats.streams++;
  const includeUsage = !!(body.stream_options && body.stream_options.include_usage);
  let closed = false;
  let timer = null;
  stats.open_streams++;
  if (stats.open_streams > stats.max_open_streams) stats.max_open_streams = stats.open_streams;
  const finish = () => {
    if (closed) return;
    closed = true;
    stats.open_streams--;
    if (timer) clearTimeout(timer);
  };
  res.on('close', finish);
  later(o.delay_ms, () => {
    if (closed) return;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(chunk(model, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null,
      finish_reason: null }]));
    let i = 0;
    const step = () => {
      timer = null;
      if (closed) return;
      while (i < o.chunks) {
        res.write(chunk(model, [{ index: 0, delta: { content: 'tok' + i + ' ' }, logprobs: null,
          finish_reason: null }]));
        i++;
        if (o.chunk_delay_ms > 0 && i < o.chunks) { timer = setTimeout(step, o.chunk_delay_ms); return; }
      }
      let tail = chunk(model, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
      if (includeUsage) tail += chunk(model, [], USAGE);
      tail += 'data: [DONE]\n\n';
      res.end(tail);
      finish();
    };
    step();
  });
}

const server = http.createServer((req, res) => {
  const url = req.url;
  if (req.method === 'POST' && url.split('?')[0].endsWith('/chat/completions')) {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => completions(req, res, parts.length === 1 ? parts[0] : Buffer.concat(parts)));
    return;
  }
  if (url === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (url === '/_bench/stats') {
    const u = process.cpuUsage();
    return sendJson(res, 200, Object.assign({ cpu_user_us: u.user, cpu_system_us: u.system,
      rss_bytes: process.memoryUsage().rss }, stats));
  }
  if (url === '/_bench/mode') {
    if (req.method === 'GET') return sendJson(res, 200, mode);
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => {
      try {
        const m = JSON.parse(Buffer.concat(parts));
        for (const k of Object.keys(mode)) if (m[k] !== undefined) mode[k] = Number(m[k]) || 0;
        sendJson(res, 200, mode);
      } catch (e) { sendJson(res, 400, { error: { message: String(e) } }); }
    });
    return;
  }
  if (req.method === 'GET' && url.split('?')[0].endsWith('/models')) {
    return sendJson(res, 200, { object: 'list', data: [{ id: 'bench', object: 'model', created: CREATED,
      owned_by: 'bench' }] });
  }
  sendJson(res, 404, { error: { message: 'no such path: ' + url, type: 'invalid_request_error' } });
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 125000;
server.requestTimeout = 0;
server.maxHeadersCount = 200;
server.on('error', (e) => { console.error('double: ' + e.message); process.exit(1); });
server.listen(port, '127.0.0.1', 8192, () => console.log('listening ' + server.address().port));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
// Never outlive the harness: exit when the parent goes away (stdin closes).
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
