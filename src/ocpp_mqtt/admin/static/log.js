// The live message log of one charge point: both directions, newest first, each frame's
// JSON pretty-printed, at most MAX_ENTRIES kept in the page (older ones are removed).

import { clock, el, pretty } from "./format.js";

export const MAX_ENTRIES = 200;
const TYPES = { 2: "CALL", 3: "CALLRESULT", 4: "CALLERROR", 5: "CALLRESULTERROR", 6: "SEND" };

export class MessageLog {
  constructor(list, counter) {
    this.list = list; // an <ol>
    this.counter = counter; // shows how many entries are kept
    this.actions = new Map(); // unique id -> action of CALLs seen, to name their answers
    this.seen = new Set(); // keys of frames shown, so history and live never double
  }

  clear() {
    this.list.replaceChildren();
    this.actions.clear();
    this.seen.clear();
    this.count();
  }

  count() {
    const n = this.list.children.length;
    this.counter.textContent = n === 0 ? "no frames yet"
      : `${n} frame${n === 1 ? "" : "s"}${n >= MAX_ENTRIES ? ` (the last ${MAX_ENTRIES})` : ""}`;
  }

  note(text) {
    this.list.prepend(el("li", { className: "log-note" }, text));
    this.trim();
  }

  /** frame: {ts (Unix ms), direction ("in": from the charge point, "out"), text} */
  add(frame) {
    const key = `${frame.ts}|${frame.direction}|${frame.text}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    let parsed = null;
    try {
      parsed = JSON.parse(frame.text);
    } catch {
      // shown as it came: a frame the gateway refused can be anything
    }
    const head = describe(parsed, this.actions);
    const inbound = frame.direction === "in";
    const item = el("li", {
      className: `frame ${inbound ? "in" : "out"} ${head.type.toLowerCase()}`,
      dataset: { type: head.type, action: head.action || "", direction: frame.direction },
    },
    el("div", { className: "frame-head" },
      el("time", { dateTime: new Date(frame.ts).toISOString() }, clock(frame.ts)),
      el("span", { className: "dir", title: inbound ? "from the charge point" : "to the charge point" },
        inbound ? "CP → gateway" : "gateway → CP"),
      el("span", { className: "type" }, head.type),
      head.action ? el("span", { className: "action" }, head.action) : null,
      head.id ? el("span", { className: "uid", title: "unique id" }, `#${head.id}`) : null),
    el("pre", { className: "frame-body" }, head.body === undefined ? frame.text
      : pretty(head.body)));
    this.list.prepend(item);
    this.trim();
  }

  trim() {
    while (this.list.children.length > MAX_ENTRIES) {
      this.list.lastElementChild.remove();
    }
    if (this.seen.size > 4 * MAX_ENTRIES) this.seen.clear();
    if (this.actions.size > MAX_ENTRIES) {
      this.actions.delete(this.actions.keys().next().value);
    }
    this.count();
  }
}

// The header names type, action and id, so the body shows what is left: the payload, or a
// CALLERROR's code, description and details.
function describe(frame, actions) {
  if (!Array.isArray(frame) || frame.length < 2) {
    return { type: "INVALID", action: null, id: null, body: undefined };
  }
  const type = TYPES[frame[0]] || `type ${frame[0]}`;
  const id = typeof frame[1] === "string" ? frame[1] : null;
  let action = null;
  if (frame[0] === 2 || frame[0] === 6) {
    action = typeof frame[2] === "string" ? frame[2] : null;
    if (frame[0] === 2 && id !== null && action !== null) actions.set(id, action);
  } else if (id !== null) {
    action = actions.get(id) || null;
    actions.delete(id);
    if (frame[0] === 4 || frame[0] === 5) {
      action = [action, typeof frame[2] === "string" ? frame[2] : null].filter(Boolean).join(": ");
    }
  }
  let body;
  if (frame[0] === 2 || frame[0] === 6) body = frame[3];
  else if (frame[0] === 3) body = frame[2];
  else if (frame[0] === 4 || frame[0] === 5) {
    body = { code: frame[2], description: frame[3], details: frame[4] };
  }
  return { type, action, id, body };
}
