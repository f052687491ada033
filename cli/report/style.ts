/** The report's stylesheet, inline in the page (no external file, font or image: the page works offline). */
export const REPORT_CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1360px;padding:0 16px;color:#1b1b1b;background:#fff}
h1{font-size:1.5em;margin:0 0 12px}h2{font-size:1.15em;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:1em;margin:18px 0 6px}
.header{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}.header dt{font-weight:600;color:#555}.header dd{margin:0;word-break:break-all}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:120px}.card .value{font-size:1.6em;font-weight:600}.card .name{color:#555;font-size:.85em}
nav ul{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;padding:0;margin:16px 0 0}nav a{color:#0b5cad}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:8px 0;border:1px solid #eee;border-radius:6px;padding:4px;width:min-content;max-width:100%;overflow-x:auto}
figcaption{color:#555;font-size:.85em;margin:4px 6px}figure details{margin:4px 6px}
.chart .chart-title{font-size:14px;font-weight:600;fill:#1b1b1b}.chart .tick,.chart .legend{font-size:11px;fill:#444}.chart .label{font-size:12px;fill:#444}
.chart .grid{stroke:#eee}.chart .axis{stroke:#888}.chart .empty{font-size:13px;fill:#999}.chart .na{font-size:9px;fill:#999}
table{border-collapse:collapse;font-size:.9em;margin:8px 0}caption{text-align:left;color:#555;font-size:.9em;padding:2px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#f6f6f6;white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:.9em}.missing{color:#6b4e00;background:#fff8e1;border-left:3px solid #e0b000;padding:6px 10px;font-size:.9em}
.callout{background:#fdecea;border-left:3px solid #D55E00;padding:6px 10px;font-size:.95em}
details{margin:12px 0}summary{cursor:pointer;font-weight:600}code{background:#f4f4f4;padding:1px 4px;border-radius:3px;word-break:break-all}footer{margin-top:32px;color:#888;font-size:.8em}
@media print{.charts{display:block}figure{break-inside:avoid}details>*{display:block}}
`;
