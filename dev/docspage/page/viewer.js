// The shop's API documents, rendered in the page from the JSON the services
// serve: no framework and nothing fetched from the internet. Every text of a
// document goes into the page as text, never as markup.
"use strict";

const METHODS = ["get", "put", "post", "delete", "patch"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function paragraphs(text) {
  if (!text) return null;
  const box = el("div", { class: "description" });
  for (const part of String(text).split(/\n\s*\n/)) box.append(el("p", {}, part.trim()));
  return box;
}

function refName(ref) { return ref.split("/").pop(); }

// schemaSummary names a schema in a line: its $ref's name, an array of
// something, or its type with what constrains it.
function schemaSummary(schema) {
  if (!schema) return "";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.type === "array") return schemaSummary(schema.items) + "[]";
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type || (schema.oneOf ? "one of" : "any"));
  const notes = [];
  if (schema.format) notes.push(schema.format);
  if (schema.enum) notes.push(schema.enum.join(" | "));
  if (schema.pattern) notes.push("pattern " + schema.pattern);
  if (schema.minimum !== undefined) notes.push("≥ " + schema.minimum);
  if (schema.maximum !== undefined) notes.push("≤ " + schema.maximum);
  if (schema.maxLength !== undefined) notes.push("≤ " + schema.maxLength + " chars");
  return notes.length ? type + " (" + notes.join(", ") + ")" : type;
}

function resolve(doc, obj) {
  let seen = 0;
  while (obj && obj.$ref && obj.$ref.startsWith("#/") && seen++ < 10) {
    obj = obj.$ref.slice(2).split("/").reduce((o, k) => (o ? o[k] : undefined), doc);
  }
  return obj;
}

function pretty(value) { return el("pre", {}, JSON.stringify(value, null, 2)); }

function renderOperation(doc, path, method, op, shared) {
  const params = [...(shared || []), ...(op.parameters || [])].map((p) => resolve(doc, p));
  const body = el("div", { class: "body" }, paragraphs(op.description));
  if (op.security && op.security.length) {
    body.append(el("p", {}, "Needs: " + op.security.map((s) => Object.keys(s).join(" + ") || "nothing").join(" or ")));
  }
  if (params.length) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "schema"), el("th", {}, "")));
    for (const p of params) {
      table.append(el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? " (required)" : ""), el("td", {}, p.in),
        el("td", {}, schemaSummary(p.schema)), el("td", {}, p.description || "")));
    }
    body.append(el("h4", {}, "Parameters"), table);
  }
  const request = resolve(doc, op.requestBody);
  if (request && request.content) {
    body.append(el("h4", {}, "Request body" + (request.required ? "" : " (optional)")));
    for (const [type, media] of Object.entries(request.content)) {
      body.append(el("p", {}, el("code", {}, type), ": ", schemaSummary(media.schema)), pretty(resolve(doc, media.schema)));
    }
  }
  const responses = el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning"), el("th", {}, "headers"), el("th", {}, "body")));
  for (const [status, raw] of Object.entries(op.responses || {})) {
    const r = resolve(doc, raw) || {};
    const headers = Object.entries(r.headers || {}).map(([name, h]) => name + (resolve(doc, h).required ? "" : "?")).join(", ");
    const content = Object.entries(r.content || {}).map(([type, media]) => type + ": " + schemaSummary(media.schema)).join("; ");
    responses.append(el("tr", { "data-status": status }, el("td", {}, status), el("td", {}, r.description || ""), el("td", {}, headers), el("td", {}, content)));
  }
  body.append(el("h4", {}, "Responses"), responses);
  return el("details", { class: "operation", "data-operation": method.toUpperCase() + " " + path },
    el("summary", {}, el("span", { class: "method " + method }, method.toUpperCase()), el("span", { class: "path" }, path),
      el("span", { class: "summary" }, op.summary || "")),
    body);
}

function renderOpenAPI(section, doc) {
  const info = doc.info || {};
  section.replaceChildren(el("h2", {}, info.title || section.id, " ", el("span", { class: "version" }, "version " + (info.version || "?"))),
    paragraphs(info.description));
  if (doc.servers && doc.servers.length) {
    section.append(el("p", {}, "Servers: " + doc.servers.map((s) => s.url).join(", ")));
  }
  let count = 0;
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      section.append(renderOperation(doc, path, method, item[method], item.parameters));
      count++;
    }
  }
  const schemas = Object.entries((doc.components || {}).schemas || {});
  if (schemas.length) {
    section.append(el("h3", {}, "Schemas"));
    for (const [name, schema] of schemas) {
      section.append(el("details", { "data-schema": name }, el("summary", {}, name), pretty(schema)));
    }
  }
  section.dataset.operations = String(count);
}

function renderAsyncAPI(section, doc) {
  const info = doc.info || {};
  section.replaceChildren(el("h2", {}, info.title || "Events", " ", el("span", { class: "version" }, "AsyncAPI " + doc.asyncapi + ", version " + (info.version || "?"))),
    paragraphs(info.description));
  const channels = el("table", {}, el("tr", {}, el("th", {}, "channel"), el("th", {}, "address"), el("th", {}, "messages")));
  for (const [name, ch] of Object.entries(doc.channels || {})) {
    channels.append(el("tr", { "data-channel": name }, el("td", {}, name), el("td", {}, el("code", {}, ch.address || "")),
      el("td", {}, Object.keys(ch.messages || {}).join(", "))));
  }
  section.append(el("h3", {}, "Channels"), channels);
  const operations = el("table", {}, el("tr", {}, el("th", {}, "operation"), el("th", {}, "action"), el("th", {}, "channel"), el("th", {}, "")));
  let count = 0;
  for (const [name, op] of Object.entries(doc.operations || {})) {
    operations.append(el("tr", { "data-operation": name }, el("td", {}, name), el("td", {}, op.action || ""),
      el("td", {}, op.channel && op.channel.$ref ? refName(op.channel.$ref) : ""), el("td", {}, op.summary || op.description || "")));
    count++;
  }
  section.append(el("h3", {}, "Operations"), operations);
  const messages = Object.entries((doc.components || {}).messages || {});
  if (messages.length) {
    section.append(el("h3", {}, "Messages"));
    for (const [name, m] of messages) {
      const message = resolve(doc, m);
      section.append(el("details", { "data-message": name }, el("summary", {}, name, " ", el("span", { class: "summary" }, message.summary || message.title || "")),
        paragraphs(message.description), pretty(resolve(doc, message.payload))));
    }
  }
  section.dataset.operations = String(count);
}

async function load(section, url, render) {
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    render(section, await response.json());
    section.dataset.state = "rendered";
  } catch (err) {
    section.replaceChildren(el("h2", {}, section.id), el("p", { class: "error" }, "Could not render " + url + ": " + err.message));
    section.dataset.state = "failed";
  }
}

Promise.all([
  ...[...document.querySelectorAll("[data-openapi]")].map((s) => load(s, s.dataset.openapi, renderOpenAPI)),
  ...[...document.querySelectorAll("[data-asyncapi]")].map((s) => load(s, s.dataset.asyncapi, renderAsyncAPI)),
]).then(() => { document.body.dataset.state = "done"; });
