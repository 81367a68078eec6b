// The admin API from the page: JSON requests and the live event stream, both carrying the
// bearer token as an Authorization header. The token lives in sessionStorage (gone when the
// tab closes) and never in a URL: URLs end up in access logs, proxies and browser history.
// EventSource cannot send headers, so the stream is read with fetch and a stream reader.

const TOKEN_KEY = "ocpp-mqtt.admin-token";

let askForToken = async (_reason) => { throw new Error("no token prompt installed"); };
let pendingAsk = null;

/** Installs the prompt: an async function(reason) that resolves once a token is stored. */
export function onTokenNeeded(prompt) {
  askForToken = prompt;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Every request that gets 401 waits on the same prompt.
function needToken(reason) {
  if (pendingAsk === null) {
    pendingAsk = askForToken(reason).finally(() => { pendingAsk = null; });
  }
  return pendingAsk;
}

function headers(extra = {}) {
  const out = { ...extra };
  const current = token();
  if (current) out.Authorization = `Bearer ${current}`;
  return out;
}

async function unauthorizedReason(response) {
  try {
    return (await response.json()).reason || "unauthorized";
  } catch {
    return "unauthorized";
  }
}

/**
 * One API request. Resolves {status, ok, data} (data: the decoded JSON body, or its text);
 * a 401 asks for the token and retries. Rejects only when the gateway cannot be reached.
 */
export async function request(method, path, body = undefined) {
  for (;;) {
    const init = { method, cache: "no-store", headers: headers() };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      await needToken(await unauthorizedReason(response));
      continue;
    }
    const text = await response.text();
    let data = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, ok: response.ok, data };
  }
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);

/** The path of one charge point's resource; identities are percent-encoded path segments. */
export function cpPath(identity, rest = "") {
  return `/api/v1/charge-points/${encodeURIComponent(identity)}${rest}`;
}

function parseBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") event = value;
    else if (name === "data") data.push(value);
  }
  if (data.length === 0) return null;
  try {
    return { event, data: JSON.parse(data.join("\n")) };
  } catch {
    return null;
  }
}

/**
 * Reads /api/v1/stream?<params> until closed, reconnecting after a drop.
 * onEvent(kind, data) for each event; onState("live" | "reconnecting" | "closed", why).
 * Returns {close()}.
 */
export function stream(params, onEvent, onState) {
  const abort = new AbortController();
  let closed = false;
  const query = new URLSearchParams(params).toString();

  async function readOnce() {
    const response = await fetch(`/api/v1/stream?${query}`, {
      cache: "no-store", signal: abort.signal,
      headers: headers({ Accept: "text/event-stream" }),
    });
    if (response.status === 401) {
      await needToken(await unauthorizedReason(response));
      return "token";
    }
    if (!response.ok || !response.body) {
      return `HTTP ${response.status}`;
    }
    onState("live", "");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "the stream ended";
      buffer += value.replaceAll("\r\n", "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const parsed = parseBlock(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (parsed !== null) onEvent(parsed.event, parsed.data);
      }
    }
  }

  (async () => {
    while (!closed) {
      let why;
      try {
        why = await readOnce();
      } catch (error) {
        why = String(error && error.message ? error.message : error);
      }
      if (closed) break;
      if (why === "token") continue;
      onState("reconnecting", why);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    onState("closed", "");
  })();

  return {
    close() {
      closed = true;
      abort.abort();
    },
  };
}
