import { APP_JS } from './app-script.js';
import { CHART_JS } from './chart-script.js';

export { DASHBOARD_HTML } from './html.js';
export { DASHBOARD_CSS } from './style.js';

/** One script, in its own scope: the chart drawing first, then the page's behaviour. */
export const DASHBOARD_JS = `'use strict';\n(function () {\n${CHART_JS}\n${APP_JS}\n})();\n`;
