export { DashboardServer, type DashboardServerDeps } from './http-server.js';
export { DashboardData, type DashboardSources, type OverviewView, type SiteView, type CurrentRoundView, type SiteProgressView, type RoundView, type ModelView } from './dashboard-data.js';
export { DashboardAuth, dashboardToken } from './dashboard-token.js';
export { CoordinatorMetrics, type MetricsSources } from './metrics.js';
export { REFUSAL_REASONS, refusalReason, type RefusalReason } from './refusal-reason.js';
