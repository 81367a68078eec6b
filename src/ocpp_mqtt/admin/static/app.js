// The dashboard's wiring: the list, the health panel, the selected charge point, the token
// prompt, and one live stream of connects, disconnects and connector changes.

import * as api from "./api.js";
import { Detail } from "./detail.js";
import { Health } from "./health.js";
import { ChargePointTable } from "./table.js";

const $ = (selector) => document.querySelector(selector);
const LIST_LIMIT = 1000; // the API's largest page
const HEALTH_EVERY = 5000; // ms between health (and selected detail) refreshes
const LIST_EVERY = 30000; // ms between full list reloads (events keep it current meanwhile)

const health = new Health($("#health"));
const table = new ChargePointTable($("#cp-rows"), $("#cp-summary"), (identity) => select(identity));
const detail = new Detail($("#detail"), (why) => {
  if (why === "close") select(null);
  else scheduleList();
});

// ---- the token prompt ---------------------------------------------------------------------

api.onTokenNeeded((reason) => new Promise((resolve) => {
  const dialog = $("#token-dialog");
  const input = $("#token-input");
  $("#token-reason").textContent = api.token()
    ? `The gateway refused the token: ${reason}. Enter it again.`
    : "This gateway's admin API needs its bearer token (admin_token).";
  input.value = "";
  const form = $("#token-form");
  const done = (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) {
      input.setAttribute("aria-invalid", "true");
      return;
    }
    input.removeAttribute("aria-invalid");
    api.setToken(value);
    form.removeEventListener("submit", done);
    dialog.close();
    showToken();
    resolve();
  };
  form.addEventListener("submit", done);
  if (!dialog.open) dialog.showModal();
  input.focus();
}));

// Escape would close the dialog with nobody answering the requests that wait on it.
$("#token-dialog").addEventListener("cancel", (event) => event.preventDefault());

function showToken() {
  const has = Boolean(api.token());
  $("#token-state").hidden = !has;
}

$("#token-forget").addEventListener("click", () => {
  api.forgetToken();
  showToken();
  location.reload();
});

// ---- the list -----------------------------------------------------------------------------

let listTimer = null;
let listLoading = false;
let listAgain = false;

async function loadList() {
  if (listLoading) {
    listAgain = true;
    return;
  }
  listLoading = true;
  try {
    const params = new URLSearchParams({ limit: String(LIST_LIMIT) });
    if (table.filter.q) params.set("q", table.filter.q);
    if (table.filter.status) params.set("status", table.filter.status);
    const reply = await api.get(`/api/v1/charge-points?${params}`);
    if (reply.ok) {
      table.setItems(reply.data.items, reply.data.total, health.status ? health.status.mode
        : "relay");
      if (detail.identity !== null) {
        const item = table.get(detail.identity);
        if (item !== null) detail.open(detail.identity, item);
      }
    } else {
      $("#cp-summary").textContent = `Cannot list charge points: ${reply.status} `
        + `${reply.data && reply.data.reason}`;
    }
  } catch (error) {
    $("#cp-summary").textContent = `Cannot reach the gateway: ${error.message}`;
  } finally {
    listLoading = false;
    if (listAgain) {
      listAgain = false;
      scheduleList();
    }
  }
}

/** Reload the list soon, once for a burst of events. */
function scheduleList(delay = 250) {
  if (listTimer !== null) return;
  listTimer = setTimeout(() => {
    listTimer = null;
    loadList();
  }, delay);
}

$("#cp-filters").addEventListener("submit", (event) => event.preventDefault());
let filterTimer = null;
$("#cp-filter").addEventListener("input", (event) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    table.filter.q = event.target.value.trim();
    loadList();
  }, 200);
});
$("#cp-status-filter").addEventListener("change", (event) => {
  table.filter.status = event.target.value;
  loadList();
});

// ---- health -------------------------------------------------------------------------------

async function loadHealth() {
  try {
    const reply = await api.get("/api/v1/status");
    if (reply.ok) health.show(reply.data);
    else health.unreachable(`${reply.status}: ${reply.data && reply.data.reason}`);
  } catch (error) {
    health.unreachable(`cannot reach the gateway (${error.message})`);
  }
}

// ---- selection (kept in the URL's fragment, so a reload shows the same charge point) -------

function select(identity) {
  table.select(identity);
  if (identity === null) {
    detail.close();
    if (location.hash) history.replaceState(null, "", location.pathname);
    return;
  }
  detail.open(identity, table.get(identity) || { identity, online: false });
  history.replaceState(null, "", `#cp=${encodeURIComponent(identity)}`);
}

function selectedFromUrl() {
  const match = /^#cp=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

// ---- the live stream ----------------------------------------------------------------------

function onEvent(kind, data) {
  if (kind === "connectors") {
    if (!table.patchConnectors(data.identity, data.connectors)) scheduleList();
    if (data.identity === detail.identity) {
      const item = table.get(data.identity);
      if (item !== null) detail.open(data.identity, item);
    }
  } else if (kind === "connected") {
    scheduleList();
    loadHealth();
  } else if (kind === "disconnected") {
    table.left(data.identity, data.reason);
    scheduleList();
    loadHealth();
  }
}

function onStreamState(state, why) {
  const live = $("#live-state");
  live.textContent = state === "live" ? "live" : state === "reconnecting"
    ? `reconnecting (${why})` : "closed";
  live.className = `badge ${state === "live" ? "online" : "offline"}`;
  if (state === "live") {
    scheduleList(0); // whatever happened while the stream was down
    loadHealth();
  }
}

async function start() {
  showToken();
  await loadHealth();
  await loadList();
  const wanted = selectedFromUrl();
  if (wanted !== null) select(wanted);
  api.stream({ types: "connected,disconnected,connectors" }, onEvent, onStreamState);
  setInterval(() => {
    loadHealth();
    if (detail.identity !== null) detail.refresh();
  }, HEALTH_EVERY);
  setInterval(() => health.render(), 1000); // the uptime ticks
  setInterval(() => scheduleList(0), LIST_EVERY);
}

start();
