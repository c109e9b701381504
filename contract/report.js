// report.js reads Newman's JSON report of a `make contract` run and prints
// what failed, one block per request, and, for the journey, which operations
// of the documents the run never exercised.
// Usage: node report.js NEWMAN_JSON [--coverage doc.json ...]
// Exit status: 1 when an assertion failed, a request got no answer, or an
// operation was not exercised; 0 otherwise.
'use strict';
const fs = require('fs');

const args = process.argv.slice(2);
const report = JSON.parse(fs.readFileSync(args[0], 'utf8'));
const docs = args.includes('--coverage') ? args.slice(args.indexOf('--coverage') + 1) : [];
const run = report.run;
let bad = false;

const failed = new Map();
for (const f of run.failures) {
  const name = f.source && f.source.name ? f.source.name : '(collection)';
  if (!failed.has(name)) failed.set(name, []);
  failed.get(name).push(`${f.error.test || f.error.name}: ${f.error.message}`);
}
for (const e of run.executions) {
  if (e.requestError) {
    const name = e.item.name;
    if (!failed.has(name)) failed.set(name, []);
    failed.get(name).push(`no answer: ${e.requestError.message || e.requestError.code}`);
  }
}
const executions = run.executions.length;
const assertions = run.executions.reduce((n, e) => n + (e.assertions || []).length, 0);
if (failed.size > 0) {
  bad = true;
  console.log(`FAILED: ${failed.size} of ${executions} requests (${run.failures.length} failures in ${assertions} assertions):`);
  for (const e of run.executions) {
    const msgs = failed.get(e.item.name);
    if (!msgs) continue;
    failed.delete(e.item.name);
    const code = e.response ? e.response.code : '-';
    const where = `${e.item.name}  [${e.request.method} ${decodeURIComponent(urlPath(e.request.url))} -> ${code}]`;
    // A variable an earlier step should have set is still a {{name}}: this
    // request only shows that earlier failure again, so say so in one line.
    const unset = [...new Set((JSON.stringify(e.request).match(/\{\{[A-Za-z0-9_]+\}\}|%7B%7B[A-Za-z0-9_]+%7D%7D/g) || [])
      .map((v) => decodeURIComponent(v)))];
    if (unset.length > 0) {
      console.log(`  ${where}\n      ${msgs.length} failures after an earlier one: ${unset.join(', ')} never set`);
      continue;
    }
    console.log(`  ${where}`);
    for (const m of msgs) console.log(`      ${m.replace(/\s+/g, ' ').slice(0, 400)}`);
  }
  for (const [name, msgs] of failed) {
    console.log(`  ${name}`);
    for (const m of msgs) console.log(`      ${m.replace(/\s+/g, ' ').slice(0, 600)}`);
  }
} else {
  console.log(`ok: ${executions} requests, ${assertions} assertions, none failed`);
}

function urlPath(url) {
  return '/' + (url.path || []).join('/');
}

if (docs.length > 0) {
  // Every (method, path) of every document must have been requested at least once.
  const seen = run.executions.map((e) => [e.request.method.toUpperCase(), urlPath(e.request.url)]);
  const missing = [];
  let total = 0;
  for (const file of docs) {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const [p, item] of Object.entries(doc.paths)) {
      const re = new RegExp('^' + p.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+') + '$');
      for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
        if (!item[method]) continue;
        total++;
        const m = method.toUpperCase();
        // A templated path must not also match a literal sibling, e.g. /api/products/buy.
        const hit = seen.some(([sm, sp]) => sm === m && re.test(sp) && !literalSibling(doc, p, sp));
        if (!hit) missing.push(`${m} ${p} (${item[method].operationId || 'no operationId'}, ${file})`);
      }
    }
  }
  if (missing.length > 0) {
    bad = true;
    console.log(`COVERAGE: the journey did not exercise ${missing.length} of ${total} operations:`);
    for (const m of missing) console.log(`  ${m}`);
  } else {
    console.log(`coverage: every one of the ${total} operations of ${docs.length} documents exercised`);
  }
}

function literalSibling(doc, templated, actual) {
  return templated.includes('{') && Object.keys(doc.paths).some((q) => q !== templated && q === actual);
}

process.exit(bad ? 1 : 0);
