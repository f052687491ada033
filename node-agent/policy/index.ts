export { loadSitePolicy, parseSitePolicy, DEFAULT_POLICY, sitePolicySchema, type SitePolicy } from './site-policy.js';
export { checkTask, type TaskTerms, type PrivacyOutlook } from './check-task.js';
