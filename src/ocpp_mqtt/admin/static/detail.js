// One charge point: its details, live message log, send-a-command form and kick button.

import * as api from "./api.js";
import { clock, el, pretty, since } from "./format.js";
import { MessageLog } from "./log.js";
import { connectorList } from "./table.js";

// Example payloads the form offers per version (any action can be typed in).
const EXAMPLES = {
  "1.6": {
    Reset: { type: "Soft" },
    TriggerMessage: { requestedMessage: "StatusNotification" },
    GetConfiguration: {},
    ChangeConfiguration: { key: "HeartbeatInterval", value: "300" },
    RemoteStartTransaction: { connectorId: 1, idTag: "DASHBOARD" },
    RemoteStopTransaction: { transactionId: 1 },
    ChangeAvailability: { connectorId: 1, type: "Operative" },
    UnlockConnector: { connectorId: 1 },
    DataTransfer: { vendorId: "ocpp-mqtt" },
  },
  "2.x": {
    Reset: { type: "Immediate" },
    TriggerMessage: { requestedMessage: "StatusNotification" },
    GetVariables: { getVariableData: [{ component: { name: "OCPPCommCtrlr" },
      variable: { name: "HeartbeatInterval" } }] },
    SetVariables: { setVariableData: [{ component: { name: "OCPPCommCtrlr" },
      variable: { name: "HeartbeatInterval" }, attributeValue: "300" }] },
    RequestStartTransaction: { remoteStartId: 1, idToken: { idToken: "DASHBOARD",
      type: "Central" }, evseId: 1 },
    RequestStopTransaction: { transactionId: "" },
    ChangeAvailability: { operationalStatus: "Operative", evse: { id: 1 } },
    UnlockConnector: { evseId: 1, connectorId: 1 },
    DataTransfer: { vendorId: "ocpp-mqtt" },
  },
};

const CALL_STATUS_TEXT = {
  answered: "answered", rejected: "answered with a CALLERROR", timeout: "no answer in time",
  queue_full: "queue full", offline: "the charge point went offline", invalid: "refused",
};

export class Detail {
  constructor(root, onChanged) {
    this.root = root;
    this.onChanged = onChanged; // after a kick: the list should be reloaded
    this.identity = null;
    this.item = null;
    this.frames = null; // the live frame stream
    this.held = []; // live frames that arrived before the history was shown
    this.historyShown = false;
    this.q = (selector) => root.querySelector(selector);
    this.log = new MessageLog(this.q("#log"), this.q("#log-count"));
    this.q("#command-form").addEventListener("submit", (e) => { e.preventDefault(); this.send(); });
    this.q("#command-action").addEventListener("input", () => this.example());
    this.q("#kick").addEventListener("click", () => this.kick());
    this.q("#log-clear").addEventListener("click", () => this.log.clear());
    this.q("#detail-close").addEventListener("click", () => this.onChanged("close"));
    this.lastExample = "";
  }

  /** Show this charge point (item: its row in the table, may be offline). */
  open(identity, item) {
    if (identity !== this.identity) {
      this.close();
      this.identity = identity;
      this.root.hidden = false;
      this.q("#detail-title").textContent = identity;
      this.q("#command-result").replaceChildren();
      this.log.clear();
      this.startFrames();
    }
    this.item = item;
    this.render(null);
    this.refresh();
  }

  close() {
    if (this.frames !== null) this.frames.close();
    this.frames = null;
    this.identity = null;
    this.root.hidden = true;
  }

  startFrames() {
    const identity = this.identity;
    this.historyShown = false;
    this.held = [];
    this.frames = api.stream({ identity, types: "frame" }, (kind, data) => {
      if (kind !== "frame" || data.identity !== this.identity) return;
      if (this.historyShown) this.log.add(data);
      else this.held.push(data);
    }, (state, why) => {
      if (identity !== this.identity) return;
      this.q("#log-state").textContent = state === "live" ? "live"
        : state === "reconnecting" ? `reconnecting (${why})` : "";
      if (state === "live" && this.historyShown) this.log.note("stream reconnected: frames "
        + "sent meanwhile are missing here (the details keep the last ones)");
    });
  }

  async refresh() {
    const identity = this.identity;
    if (identity === null) return;
    let reply;
    try {
      reply = await api.get(api.cpPath(identity));
    } catch (error) {
      return;
    }
    if (identity !== this.identity) return;
    if (reply.status === 404) {
      this.render(null, reply.data && reply.data.reason);
    } else if (reply.ok) {
      this.render(reply.data);
      if (!this.historyShown) {
        for (const frame of reply.data.frames || []) this.log.add(frame);
        this.historyShown = true;
        for (const frame of this.held) this.log.add(frame);
        this.held = [];
      }
    }
  }

  render(detail, missing = null) {
    const base = detail || this.item || {};
    const online = Boolean(base.online) && missing === null;
    this.q("#detail-status").textContent = online ? "online" : "offline";
    this.q("#detail-status").className = `badge ${online ? "online" : "offline"}`;
    const info = [];
    const add = (name, value) => info.push(el("dt", {}, name), el("dd", {}, value));
    add("OCPP version", base.ocpp_version || "—");
    add("Remote address", base.remote_address || "—");
    add("Connected since", base.connected_since
      ? `${clock(base.connected_since, false)} (${since(base.connected_since)})` : "—");
    if (base.reason) add("Disconnected", base.reason);
    if (missing) add("Not here", missing);
    add("Connectors", connectorList(base.connectors || (this.item && this.item.connectors) || []));
    if (detail && detail.counters) {
      const c = detail.counters;
      add("Frames", `${c.frames_in} in, ${c.frames_out} out`);
      add("CALLs", `${c.calls_in} from it, ${c.calls_out} to it`);
      add("CALLERRORs", `${c.callerrors_in} from it, ${c.callerrors_out} to it`);
      add("Queue", `${detail.queue_length} waiting`);
      add("Heartbeat interval", detail.keepalive ? `${detail.keepalive} s` : "—");
    }
    const state = detail && detail.state;
    if (state && (state.vendor || state.model)) {
      add("Model", [state.vendor, state.model, state.firmware_version && `fw ${state.firmware_version}`]
        .filter(Boolean).join(" "));
    }
    this.q("#detail-info").replaceChildren(...info);
    for (const control of this.root.querySelectorAll(".needs-online")) control.disabled = !online;
    this.example(false);
  }

  versionKey() {
    const version = (this.item && this.item.ocpp_version) || "1.6";
    return version === "1.6" ? "1.6" : "2.x";
  }

  /** Fills the action list and, when the payload is empty or an untouched example, its example. */
  example(fromChange = true) {
    const examples = EXAMPLES[this.versionKey()];
    const list = this.q("#command-actions");
    if (list.dataset.version !== this.versionKey()) {
      list.dataset.version = this.versionKey();
      list.replaceChildren(...Object.keys(examples).map((a) => el("option", { value: a })));
    }
    if (!fromChange) return;
    const payload = this.q("#command-payload");
    const action = this.q("#command-action").value.trim();
    const current = payload.value.trim();
    if (examples[action] && (current === "" || current === "{}" || current === this.lastExample)) {
      payload.value = this.lastExample = pretty(examples[action]);
    }
  }

  async send() {
    const identity = this.identity;
    const out = this.q("#command-result");
    const action = this.q("#command-action").value.trim();
    const text = this.q("#command-payload").value.trim() || "{}";
    let payload;
    try {
      payload = JSON.parse(text);
    } catch (error) {
      show(out, "error", "Not sent: the payload is not valid JSON", error.message);
      return;
    }
    if (!action) {
      show(out, "error", "Not sent: name the OCPP action, e.g. Reset", null);
      return;
    }
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
      show(out, "error", "Not sent: the payload must be a JSON object", null);
      return;
    }
    const button = this.q("#command-send");
    button.disabled = true;
    show(out, "pending", `Sending ${action}… (waits for the charge point's answer)`, null);
    try {
      const reply = await api.post(api.cpPath(identity, "/call"), { action, payload });
      if (identity !== this.identity) return;
      const data = reply.data || {};
      const what = CALL_STATUS_TEXT[data.status] || data.error || "failed";
      const elapsed = data.elapsed_ms !== undefined ? ` in ${data.elapsed_ms} ms` : "";
      if (reply.status === 200 && data.status === "answered") {
        show(out, "ok", `${reply.status} ${what}${elapsed}`, data.result);
      } else if (reply.status === 200) {
        show(out, "warn", `${reply.status} ${what}${elapsed}`, data.error);
      } else {
        show(out, "error", `${reply.status} ${what}: ${data.reason || "no reason given"}`,
          data.result ?? null);
      }
    } catch (error) {
      show(out, "error", "Not sent: the gateway cannot be reached", String(error));
    } finally {
      button.disabled = false;
    }
    this.refresh(); // its counters moved
  }

  async kick() {
    const identity = this.identity;
    const out = this.q("#command-result");
    try {
      const reply = await api.post(api.cpPath(identity, "/kick"), { reason: "from the dashboard" });
      const data = reply.data || {};
      if (reply.ok) {
        show(out, data.closed ? "ok" : "warn", data.closed ? `Disconnected: ${data.reason}`
          : "Asked to close; the socket has not closed yet", null);
      } else {
        show(out, "error", `${reply.status} ${data.error}: ${data.reason}`, null);
      }
    } catch (error) {
      show(out, "error", "The gateway cannot be reached", String(error));
    }
    this.onChanged("kicked");
  }
}

function show(out, tone, headline, body) {
  const parts = [el("p", { className: `result tone-${tone}` }, headline)];
  if (body !== null && body !== undefined) {
    parts.push(el("pre", { className: "result-body" },
      typeof body === "string" ? body : pretty(body)));
  }
  out.replaceChildren(...parts);
  out.dataset.tone = tone;
}
