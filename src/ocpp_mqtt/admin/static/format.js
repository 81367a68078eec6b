// Small DOM and formatting helpers. Text always goes in with textContent, never as HTML:
// identities, reasons and payloads come from charge points and must not become markup.

/** el("td", {className: "x", title: "y"}, "text", childNode, ...) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("aria-") || key === "role" || key === "for") {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** Local time of a Unix-ms instant: "14:03:07.123" (with the date when not today). */
export function clock(ms, withMillis = true) {
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
    + (withMillis ? `.${pad(d.getMilliseconds(), 3)}` : "");
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** "3 s", "4 min", "2 h 5 min", "3 d 4 h" */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function since(ms) {
  return ms ? `${duration((Date.now() - ms) / 1000)} ago` : "—";
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** A CSS class for a connector status (the 1.6 vocabulary both modes use). */
export function statusClass(status) {
  return `st-${String(status || "unknown").toLowerCase()}`;
}
