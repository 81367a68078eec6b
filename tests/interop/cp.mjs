// A charge point driven by a JSON scenario, built on ocpp-rpc's RPCClient (used by test_ocpp_rpc.py).
//
// Usage: node cp.mjs '<scenario json>'
//
// Scenario keys:
//   endpoint      ws://host:port/ocpp (the identity is appended by ocpp-rpc as '/' + encodeURIComponent)
//   identity      charge point identity
//   protocols     subprotocols offered, in preference order
//   strictMode    true/false or a list of protocols (never use it with ocpp2.1: ocpp-rpc#94)
//   calls         [{method, params, options}] made one after the other after connecting
//   handlers      {method: {result: {...}} | {error: {code, description, details}}}
//   expectHandled number of handler invocations to wait for before closing (default 0)
//   timeoutMs     hard limit for the whole run (default 15000)
//
// Output: one JSON object per line on stdout, `event` being one of
//   connected {protocol} | result {method, result} | error {method, code, message, details} |
//   handler {method, messageId, params} | badMessage {...} | closed {code, reason} |
//   fatal {message} | timeout {} | done {}
import { RPCClient, createRPCError } from 'ocpp-rpc';

const scenario = JSON.parse(process.argv[2] ?? '{}');
const limit = scenario.timeoutMs ?? 15000;

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

const hardStop = setTimeout(() => {
  emit('timeout', { afterMs: limit });
  process.exit(2);
}, limit);

const client = new RPCClient({
  endpoint: scenario.endpoint,
  identity: scenario.identity,
  protocols: scenario.protocols ?? ['ocpp1.6'],
  strictMode: scenario.strictMode ?? false,
  reconnect: false,
  callTimeoutMs: scenario.callTimeoutMs ?? 10000,
});

let handled = 0;
let wakeHandled = null;

for (const [method, spec] of Object.entries(scenario.handlers ?? {})) {
  client.handle(method, async ({ params, messageId }) => {
    emit('handler', { method, messageId, params });
    handled += 1;
    if (wakeHandled) wakeHandled();
    if (spec.error) {
      throw createRPCError(spec.error.code, spec.error.description ?? '', spec.error.details ?? {});
    }
    return spec.result ?? {};
  });
}

client.on('badMessage', ({ buffer, error, response }) => {
  emit('badMessage', { message: String(buffer), error: String(error?.message ?? error), response });
});
client.on('strictValidationFailure', ({ method, error, outbound, isCall }) => {
  emit('strictValidationFailure', { method, outbound, isCall, error: String(error?.message ?? error) });
});
client.on('close', ({ code, reason }) => {
  emit('closed', { code, reason: reason ? String(reason) : '' });
});

async function main() {
  try {
    await client.connect();
  } catch (err) {
    emit('fatal', { message: String(err?.message ?? err) });
    process.exit(1);
  }
  emit('connected', { protocol: client.protocol });

  for (const { method, params, options } of scenario.calls ?? []) {
    try {
      const result = await client.call(method, params ?? {}, options ?? {});
      emit('result', { method, result });
    } catch (err) {
      emit('error', {
        method,
        code: err?.rpcErrorCode ?? null,
        name: err?.name ?? null,
        message: String(err?.message ?? err),
        details: err?.details ?? null,
      });
    }
  }

  const expected = scenario.expectHandled ?? 0;
  while (handled < expected) {
    await new Promise((resolve) => { wakeHandled = resolve; });
    wakeHandled = null;
  }
  // Let the last handler's CALLRESULT leave before closing.
  await new Promise((resolve) => setTimeout(resolve, scenario.lingerMs ?? 100));
  await client.close({ code: 1000, reason: 'scenario done', awaitPending: true });
  emit('done');
  clearTimeout(hardStop);
  process.exit(0);
}

main().catch((err) => {
  emit('fatal', { message: String(err?.stack ?? err) });
  process.exit(1);
});
