export const DASHBOARD_CSS = `
:root { --ink: #1d2430; --muted: #5b6472; --line: #d9dee5; --bg: #f6f7f9; --accent: #0072B2; --bad: #b3261e; --good: #1b7f3b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1.5rem; padding: 0.8rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
h1 { font-size: 1.25rem; margin: 0; }
h1 span { color: var(--muted); font-weight: normal; }
h2 { font-size: 1rem; margin: 0 0 0.6rem; }
.summary { color: var(--muted); }
header button { margin-left: auto; }
main { padding: 1rem 1.5rem; max-width: 1400px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.9rem 1rem; margin-bottom: 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.6rem 0.3rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 0.85rem; }
td.num { font-variant-numeric: tabular-nums; }
code, .hash { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85rem; }
.state { display: inline-block; padding: 0 0.45rem; border-radius: 999px; font-size: 0.8rem; background: #eef1f5; }
.state-offline, .state-failed, .state-aborted { background: #fbe9e7; color: var(--bad); }
.state-training, .state-evaluating, .state-open, .state-uploading, .state-downloading { background: #e3f0fa; color: var(--accent); }
.state-done, .state-closed, .state-idle { background: #e6f4ea; color: var(--good); }
.bar { position: relative; height: 0.9rem; min-width: 10rem; background: #eef1f5; border-radius: 3px; overflow: hidden; }
.bar > div { position: absolute; inset: 0 auto 0 0; background: var(--accent); }
.error { color: var(--bad); }
.muted { color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1rem; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .axis { stroke: #8a93a0; stroke-width: 1; }
.chart .grid { stroke: #eceff3; stroke-width: 1; }
.chart text { font-size: 11px; fill: #5b6472; }
.chart .title { font-size: 13px; font-weight: 600; fill: #1d2430; }
.chart .series { fill: none; stroke-width: 2; }
form { display: flex; gap: 0.5rem; }
input[type=password] { flex: 1; max-width: 32rem; padding: 0.35rem 0.5rem; font: inherit; }
button { font: inherit; padding: 0.3rem 0.8rem; }
`;
