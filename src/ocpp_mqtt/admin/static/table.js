// The charge point table: one row per charge point from GET /api/v1/charge-points, with its
// connectors patched in place by the stream's `connectors` events.

import { clock, el, since, statusClass } from "./format.js";

const GONE_MAX = 200; // relay mode: charge points seen leaving, kept in the page

export class ChargePointTable {
  constructor(tbody, summary, onSelect) {
    this.tbody = tbody;
    this.summary = summary;
    this.onSelect = onSelect;
    this.items = new Map(); // identity -> item as the API lists it
    this.gone = new Map(); // relay mode: identity -> item, offline, with `reason`
    this.selected = null;
    this.mode = "relay";
    this.total = 0;
    this.filter = { q: "", status: "" };
  }

  /** A fresh list from the API (already filtered by the API with this.filter). */
  setItems(items, total, mode) {
    this.mode = mode;
    this.total = total;
    this.items = new Map(items.map((item) => [item.identity, item]));
    for (const identity of this.items.keys()) this.gone.delete(identity);
    this.render();
  }

  get(identity) {
    return this.items.get(identity) || this.gone.get(identity) || null;
  }

  /** Relay mode forgets a charge point once it leaves; the page keeps showing it offline. */
  left(identity, reason) {
    const item = this.items.get(identity);
    if (this.mode !== "relay" || item === undefined) return;
    this.items.delete(identity);
    this.gone.set(identity, { ...item, online: false, connected_since: null, reason,
      left_at: Date.now() });
    while (this.gone.size > GONE_MAX) this.gone.delete(this.gone.keys().next().value);
    this.render();
  }

  patchConnectors(identity, connectors) {
    const item = this.items.get(identity);
    if (item === undefined) return false;
    item.connectors = connectors;
    const row = this.rowOf(identity);
    if (row !== null) row.replaceWith(this.row(item));
    else this.render();
    return true;
  }

  select(identity) {
    this.selected = identity;
    for (const row of this.tbody.rows) {
      const on = row.dataset.identity === identity;
      row.classList.toggle("selected", on);
      if (on) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }

  rowOf(identity) {
    for (const row of this.tbody.rows) if (row.dataset.identity === identity) return row;
    return null;
  }

  visibleGone() {
    const q = this.filter.q.toLowerCase();
    return [...this.gone.values()].filter((item) => this.filter.status !== "online"
      && (!q || item.identity.toLowerCase().includes(q)) && !this.items.has(item.identity));
  }

  render() {
    const rows = [...this.items.values(), ...this.visibleGone()]
      .sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
    if (rows.length === 0) {
      const none = this.filter.q || this.filter.status ? "No charge point matches the filter."
        : "No charge point connected yet: point one at the gateway's WebSocket address.";
      this.tbody.replaceChildren(el("tr", { className: "empty" },
        el("td", { colSpan: 7 }, none)));
    } else {
      this.tbody.replaceChildren(...rows.map((item) => this.row(item)));
    }
    const online = rows.filter((item) => item.online).length;
    const more = this.total > this.items.size
      ? ` — showing the first ${this.items.size} of ${this.total}: narrow the filter` : "";
    this.summary.textContent = `${rows.length} charge point${rows.length === 1 ? "" : "s"}, `
      + `${online} online${more}`;
  }

  row(item) {
    const selected = item.identity === this.selected;
    const button = el("button", { type: "button", className: "link",
      title: "show its details, message log and commands" }, item.identity);
    button.addEventListener("click", () => this.onSelect(item.identity));
    const state = item.online ? "online" : "offline";
    return el("tr", { dataset: { identity: item.identity, online: String(item.online) },
      className: selected ? "selected" : "", "aria-current": selected ? "true" : null },
    el("th", { scope: "row" }, button),
    el("td", {}, el("span", { className: `badge ${state}`,
      title: item.reason ? `disconnected: ${item.reason}` : "" }, state)),
    el("td", {}, item.ocpp_version || "—"),
    el("td", {}, item.remote_address || "—"),
    el("td", {}, item.connected_since
      ? el("time", { dateTime: new Date(item.connected_since).toISOString(),
        title: since(item.connected_since) }, clock(item.connected_since, false))
      : "—"),
    el("td", {}, connectorList(item.connectors || [])),
    el("td", { className: "num" }, String(item.queue_length ?? 0)));
  }
}

export function connectorList(connectors) {
  if (connectors.length === 0) return el("span", { className: "muted" }, "none reported");
  return el("ul", { className: "connectors" }, ...connectors.map((c) => el("li", {
    className: `chip ${statusClass(c.status)}`,
    dataset: { connector: String(c.id), status: c.status || "" },
    title: [c.ocpp_status && c.ocpp_status !== c.status ? `OCPP: ${c.ocpp_status}` : null,
      c.error_code && c.error_code !== "NoError" ? `error: ${c.error_code}` : null,
      c.transaction_id ? `transaction ${c.transaction_id}` : null,
      c.power_w !== null && c.power_w !== undefined ? `${c.power_w} W` : null]
      .filter(Boolean).join(", "),
  }, `${c.id}: ${c.status || "unknown"}`, power(c))));
}

/** " · 7.4 kW" while power flows (central mode's readings, or a 2.x TransactionEvent's). */
function power(connector) {
  const watts = connector.power_w;
  if (typeof watts !== "number" || watts <= 0) return null;
  return el("span", { className: "power" }, ` · ${(watts / 1000).toFixed(1)} kW`);
}
