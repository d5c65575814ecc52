import { type Command, parse } from "./command.js";
import { SIM_DEFAULTS, SIM_FLAGS, simOptionsFrom } from "../device-sim/options.js";
import { runSim, type EstFactoryOptions } from "../device-sim/main.js";
import { EstClient } from "../device-sim/est-client.js";

const makeEst = (o: EstFactoryOptions) => new EstClient(o);

export const simCommand: Command = {
  name: "sim",
  summary: "run virtual devices against a running gateway",
  help: `Usage: gateway sim [options]

Runs virtual devices against a running gateway through the real EST and MQTT
paths. Each device enrolls (if it has no certificate), connects over mqtts
with its certificate, subscribes to its commands and publishes telemetry.
With --data it also connects as a service, subscribes to devices/+/telemetry
and measures delivery and end-to-end latency.

A one-line progress report goes to stderr about once a second; at the end one
JSON object goes to stdout (or --out):
  { devices, enrolled, connected, published, delivered, failures: { <reason>: n },
    enrollPerSec, connectPerSec, latencyMs: { p50, p95, p99, max } }
Exit status: 0 when there are no failures, 1 otherwise, 2 on a usage error.

Options:
  --devices N          number of devices (default ${SIM_DEFAULTS.devices}; with --tokens: one per line)
  --concurrency C      devices booting at once (default ${SIM_DEFAULTS.concurrency})
  --rate R             telemetry messages per second per device (default ${SIM_DEFAULTS.rate}; may be 0.1)
  --duration S         how long the fleet runs once every device has booted,
                       e.g. 30, 30s, 5m (default ${SIM_DEFAULTS.duration})
  --start-timeout S    longest boot phase (enroll + connect of every device);
                       devices not up by then fail (default ${SIM_DEFAULTS.startTimeout})
  --qos 0|1            QoS of telemetry (default ${SIM_DEFAULTS.qos})
  --payload-bytes B    telemetry payload size in bytes (default ${SIM_DEFAULTS.payloadBytes})
  --data DIR           the gateway's data directory: mints tokens, trusts pki/ca.pem,
                       issues the service subscriber's credential, admin credential
  --tokens FILE        CSV "deviceId,token" from "gateway token create --count N --prefix P"
  --idevid DIR         manufacturer credentials DIR/<id>.pem + DIR/<id>.key: devices enroll
                       with these TLS client certificates (gateway --bootstrap-ca) instead of tokens
  --state DIR          keys and certificates kept between runs (a device with a
                       certificate does not enroll again); default: memory only
  --ca FILE            the gateway's trust anchor when --data is not given
  --est URL            EST server (default ${SIM_DEFAULTS.est})
  --mqtt URL           MQTT server (default ${SIM_DEFAULTS.mqtt})
  --out FILE           write the JSON report there instead of stdout
  --scenario NAME      first-boot (default), reconnect-storm (everyone drops and
                       comes back at once), revoke-drill (revoke some devices mid-run)
  --revoke N           devices the revoke drill revokes (default: a tenth); implies revoke-drill
  --renew-at X         when devices re-enroll: a fraction of the certificate lifetime
                       (default 0.667: a third left) or seconds after obtaining it (e.g. 20s)
  --prefix P           device ids P000001... when minting tokens (default ${SIM_DEFAULTS.prefix})`,
  async run(io) {
    const { values } = parse(io.argv, SIM_FLAGS, false);
    if (values.help) return io.out(simCommand.help + "\n"), 0;
    const opts = simOptionsFrom(values);
    // The first Ctrl-C ends the run early and still prints the report; a second one kills the process.
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      const { exitCode } = await runSim(opts, { err: io.err, out: io.out }, { makeEst, signal: stop.signal });
      return exitCode;
    } finally {
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    }
  },
};
