"""`ocpp-mqtt simulate`: realistic OCPP 1.6 / 2.0.1 / 2.1 charge points for demos, tests and
benchmarks, usable against any OCPP-J central system.

Modules: `options` (the command line), `meter` (energy, power, phases, SoC), `messages`
(payloads per version, no I/O), `commands` (answers to the central system's CALLs, no I/O),
`rpc` (the OCPP-J client side: ids, one outstanding CALL), `link` (the WebSocket edge),
`chargepoint` (one charge point's life), `stats` and `output` (figures, progress, summary),
`runner` (the fleet).
"""
