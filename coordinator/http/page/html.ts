/**
 * The dashboard's one page. It holds no data: everything comes from the JSON endpoints once the
 * page has the token, so serving it without the token gives nothing away.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Medley coordinator</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>Medley <span id="federation"></span></h1>
  <div id="summary" class="summary"></div>
  <button id="forget" type="button" hidden>Forget token</button>
</header>
<main>
  <section id="login" hidden>
    <h2>Dashboard token</h2>
    <p>This coordinator's dashboard is read-only and needs its token. Print it on the coordinator
    machine with <code>medley coordinator dashboard-token --dir STATE</code>. It is kept in this
    browser tab only (session storage).</p>
    <form id="login-form">
      <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="mdr1_…" aria-label="dashboard token">
      <button type="submit">Open</button>
    </form>
    <p id="login-error" class="error" role="alert"></p>
  </section>
  <div id="board" hidden>
    <p id="stale" class="error" role="alert" hidden></p>
    <section>
      <h2>Sites</h2>
      <table id="sites"><thead><tr><th>Site</th><th>State</th><th>Last heartbeat</th><th>Backend</th><th>Training examples</th></tr></thead><tbody></tbody></table>
    </section>
    <section>
      <h2>Current round</h2>
      <div id="round"></div>
    </section>
    <section>
      <h2>Metrics over rounds</h2>
      <div id="charts" class="charts"></div>
    </section>
    <section>
      <h2>Recent rounds</h2>
      <table id="rounds"><thead><tr><th>Round</th><th>State</th><th>Duration</th><th>Updates</th><th>Model</th><th>Message</th></tr></thead><tbody></tbody></table>
    </section>
    <section>
      <h2>Model versions</h2>
      <table id="models"><thead><tr><th>Version</th><th>From round</th><th>Created</th><th>Size</th><th>sha256</th></tr></thead><tbody></tbody></table>
    </section>
  </div>
</main>
</body>
</html>
`;
