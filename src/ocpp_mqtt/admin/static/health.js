// The gateway health panel, from GET /api/v1/status.

import { duration, el } from "./format.js";

export class Health {
  constructor(panel) {
    this.panel = panel; // a <dl>
    this.status = null;
    this.loadedAt = 0;
  }

  show(status) {
    this.status = status;
    this.loadedAt = Date.now();
    this.render();
  }

  unreachable(why) {
    this.panel.replaceChildren(...row("Gateway", why, "bad", "gateway"));
  }

  render() {
    const s = this.status;
    if (s === null) return;
    const mqtt = s.mqtt || {};
    const mqttText = mqtt.connected
      ? `connected to ${mqtt.broker}`
        + (String(mqtt.broker).includes("MQTT") ? "" : ` (MQTT ${mqtt.protocol})`)
      : `disconnected${mqtt.down_since ? ` for ${duration((Date.now() - mqtt.down_since) / 1000)}` : ""}`
        + (mqtt.broker ? ` from ${mqtt.broker}` : "");
    const cps = s.charge_points || {};
    const versions = Object.entries(cps.by_version || {})
      .filter(([, n]) => n > 0).map(([v, n]) => `${n} × ${v}`).join(", ");
    const uptime = s.uptime_s + (Date.now() - this.loadedAt) / 1000;
    const rows = [
      ...row("Gateway", `${s.gateway} (${s.mode} mode)`, null, "gateway"),
      ...row("MQTT", mqttText, mqtt.connected ? "good" : "bad", "mqtt"),
      ...row("Ready", s.ready ? "yes" : `no: ${s.reason}`, s.ready ? "good" : "bad", "ready"),
      ...row("Charge points",
        `${cps.connected} connected` + (s.mode === "central" ? ` of ${cps.known} known` : "")
        + (versions ? ` (${versions})` : ""), null, "charge-points"),
    ];
    if (s.outbox !== null && s.outbox !== undefined) {
      rows.push(...row("Outbox", `${s.outbox} message${s.outbox === 1 ? "" : "s"} not yet `
        + "acknowledged by the broker", s.outbox > 0 ? "warn" : null, "outbox"));
    }
    rows.push(...row("MQTT in flight", `${mqtt.in_flight} of ${mqtt.in_flight_max}`
      + (mqtt.backlog ? `, ${mqtt.backlog} waiting` : "")
      + (mqtt.reads_paused ? ", charge point reads paused" : ""),
    mqtt.reads_paused ? "warn" : null, "in-flight"));
    rows.push(...row("Version", `ocpp-mqtt ${s.version}`, null, "version"));
    rows.push(...row("Uptime", duration(uptime), null, "uptime"));
    this.panel.replaceChildren(...rows);
  }
}

function row(name, value, tone, key) {
  return [el("dt", {}, name),
    el("dd", { className: tone ? `tone-${tone}` : "", dataset: { health: key } }, value)];
}
