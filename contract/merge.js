// merge.js builds the two collections `make contract` runs from the three that
// Portman generated, one per service document:
//   journey.json  the "Integration Tests" folders in the order customer, product,
//                 order: one journey across the live services, through Prism;
//   mock.json     Portman's one request per operation, for `prism mock`.
// Each service keeps its own base URLs: {{baseUrl}} becomes {{<svc>Url}} and
// {{lenientUrl}} becomes {{<svc>LenientUrl}}.
// Every NAME=VALUE after --var becomes a collection variable of both (the base
// URLs, the accounts): Portman's content checks read collection variables.
// Usage: node merge.js OUTDIR customer=FILE product=FILE order=FILE [--var NAME=VALUE ...]
'use strict';
const fs = require('fs');
const path = require('path');

const argv = process.argv.slice(2);
const varAt = argv.includes('--var') ? argv.indexOf('--var') : argv.length;
const [outDir, ...pairs] = argv.slice(0, varAt);
const variable = argv.slice(varAt + 1).map((kv) => {
  const at = kv.indexOf('=');
  return { key: kv.slice(0, at), value: kv.slice(at + 1), type: 'string' };
});
if (!outDir || pairs.length === 0) {
  console.error('usage: node merge.js OUTDIR svc=collection.json ...');
  process.exit(2);
}

const journey = [];
const mock = [];
let events = [];
for (const pair of pairs) {
  const [svc, file] = pair.split('=');
  const text = fs.readFileSync(file, 'utf8')
    .replaceAll('{{baseUrl}}', `{{${svc}Url}}`)
    .replaceAll('{{lenientUrl}}', `{{${svc}LenientUrl}}`);
  const collection = JSON.parse(text);
  events = collection.event || events;
  const integration = collection.item.find((i) => i.name === 'Integration Tests');
  if (!integration || integration.item.length === 0) {
    console.error(`merge: ${file} has no integration tests (portman-config.json names no journey for ${svc})`);
    process.exit(1);
  }
  journey.push(...integration.item);
  mock.push({ name: `${svc} mock`, item: collection.item.filter((i) => i !== integration) });
}

function write(name, items) {
  const collection = {
    info: {
      name: `travluk ${name}`,
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    item: items,
    event: events,
    variable,
  };
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(collection, null, 2) + '\n');
}
write('journey', journey);
write('mock', mock);
