import type { Command } from 'commander';
import { dashboardToken } from '../../coordinator/http/index.js';
import { adminKeyFrom, adminKeyOptions, type AdminKeyOptions } from './admin-key.js';

/**
 * `medley coordinator dashboard-token`: prints the bearer token the dashboard and /metrics ask
 * for. It is derived from the admin key, so only someone who can read admin.key can print it.
 */
export function registerDashboardToken(coordinator: Command): void {
  adminKeyOptions(
    coordinator
      .command('dashboard-token')
      .description("print the read-only token of the coordinator's dashboard and /metrics (derived from the admin key; paste it into the dashboard, or give it to Prometheus)"),
  ).action((opts: AdminKeyOptions) => {
    process.stdout.write(dashboardToken(adminKeyFrom(opts)) + '\n');
  });
}
