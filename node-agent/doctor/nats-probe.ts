import { connect } from '@nats-io/transport-node';
import type { NatsSettings } from '../../shared/config/index.js';
import { describeNats, natsAuthenticator } from '../../shared/bus/index.js';
import { failed, passed, type DoctorCheck } from './check.js';

const NAME = 'NATS reachable';

/**
 * Connects once with the site's credentials and a bounded wait, round-trips a PING, and closes.
 * Nothing is published or subscribed. Messages name the servers and the credential form (never the
 * secret): the NATS client's own errors carry no credentials either.
 */
export async function probeNats(settings: NatsSettings | undefined, timeoutMs: number): Promise<DoctorCheck> {
  if (settings === undefined) return passed(NAME, 'not configured: round events ride the gRPC connection');
  const where = describeNats(settings);
  let authenticator;
  try {
    authenticator = natsAuthenticator(settings);
  } catch (err) {
    return failed(NAME, (err as Error).message, 'fix the NATS credential file named above (nats.passwordFile, nats.nkeyFile or nats.credsFile)');
  }
  try {
    const nc = await connect({ servers: settings.url.split(','), name: 'medley-agent-doctor', authenticator, timeout: timeoutMs, reconnect: false, maxReconnectAttempts: 0 });
    try {
      const rtt = await nc.rtt();
      return passed(NAME, `${where}: connected to ${nc.info?.server_name ?? nc.getServer()} (round trip ${rtt.toFixed(1)} ms)`);
    } finally {
      await nc.close();
    }
  } catch (err) {
    const message = (err as Error).message;
    if (/authori[sz]ation|authentication|permission/i.test(message) || (err as Error).name === 'AuthorizationError') {
      return failed(NAME, `${where}: the server refused the credentials (${message})`, "check the NATS user and its password file, NKEY seed or .creds file against the consortium NATS operator's records");
    }
    return failed(NAME, `cannot reach NATS at ${where}: ${message}`, 'check nats.url, that the NATS servers run, and that this host may open outbound TCP to them');
  }
}
