/**
 * A small SVG line chart drawn in the browser (the coordinator cannot import the CLI's report
 * charts, and the page must work offline, so no chart library from a CDN). Plain ES2020, kept
 * free of backticks so it can live in this TypeScript string. Each point is a <circle> with
 * data-x and data-y, so a test (or a curious operator) can read the values back from the DOM.
 */
export const CHART_JS = String.raw`
var SVG_NS = 'http://www.w3.org/2000/svg';
var PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#B8860B', '#882255', '#44AA99', '#999933'];

function svgEl(name, attrs, text) {
  var el = document.createElementNS(SVG_NS, name);
  for (var key in attrs) el.setAttribute(key, String(attrs[key]));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceStep(span, count) {
  var raw = span / Math.max(1, count);
  var power = Math.pow(10, Math.floor(Math.log10(raw)));
  var steps = [1, 2, 2.5, 5, 10];
  for (var i = 0; i < steps.length; i++) if (steps[i] * power >= raw) return steps[i] * power;
  return 10 * power;
}

function compact(v) {
  var a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + 'G';
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + 'M';
  if (a >= 1e4) return (v / 1e3).toPrecision(3) + 'k';
  if (a >= 1) return String(Math.round(v * 100) / 100);
  return v.toPrecision(2);
}

/** series: [{ name, points: [{ x, y }] }]; returns a <figure> holding the SVG. */
function lineChart(id, title, series, yLabel) {
  var W = 560, H = 260, M = { top: 30, right: 14, bottom: 54, left: 56 };
  // A series without a single value (a site that reports no such metric) gets no legend entry.
  series = series.filter(function (s) { return s.points.some(function (p) { return isFinite(p.y); }); });
  var xs = [], ys = [];
  series.forEach(function (s) { s.points.forEach(function (p) { if (isFinite(p.y)) { xs.push(p.x); ys.push(p.y); } }); });
  var figure = document.createElement('figure');
  figure.className = 'chart';
  figure.setAttribute('data-chart', id);
  var svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title });
  svg.appendChild(svgEl('text', { x: M.left, y: 18, 'class': 'title' }, title));
  figure.appendChild(svg);
  if (xs.length === 0) {
    svg.appendChild(svgEl('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no finished rounds yet'));
    return figure;
  }
  var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
  if (y0 === y1) { var pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
  var step = niceStep(y1 - y0, 5);
  y0 = Math.floor(y0 / step) * step; y1 = Math.ceil(y1 / step) * step;
  var px = function (x) { return M.left + (x - x0) / (x1 - x0) * (W - M.left - M.right); };
  var py = function (y) { return H - M.bottom - (y - y0) / (y1 - y0) * (H - M.top - M.bottom); };
  for (var t = y0; t <= y1 + step / 2; t += step) {
    svg.appendChild(svgEl('line', { x1: M.left, x2: W - M.right, y1: py(t), y2: py(t), 'class': 'grid' }));
    svg.appendChild(svgEl('text', { x: M.left - 6, y: py(t) + 4, 'text-anchor': 'end' }, compact(t)));
  }
  var xStep = Math.max(1, Math.ceil(niceStep(x1 - x0, 8)));
  for (var r = Math.ceil(x0); r <= x1; r += xStep) {
    svg.appendChild(svgEl('text', { x: px(r), y: H - M.bottom + 16, 'text-anchor': 'middle' }, String(r)));
  }
  svg.appendChild(svgEl('line', { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, 'class': 'axis' }));
  svg.appendChild(svgEl('line', { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, 'class': 'axis' }));
  svg.appendChild(svgEl('text', { x: (M.left + W - M.right) / 2, y: H - M.bottom + 32, 'text-anchor': 'middle' }, 'round'));
  if (yLabel) svg.appendChild(svgEl('text', { x: 14, y: (M.top + H - M.bottom) / 2, transform: 'rotate(-90 14 ' + (M.top + H - M.bottom) / 2 + ')', 'text-anchor': 'middle' }, yLabel));
  var legendX = M.left;
  series.forEach(function (s, i) {
    var color = PALETTE[i % PALETTE.length];
    var g = svgEl('g', { 'class': 'series-group', 'data-series': s.name });
    var path = '';
    var pen = false;
    s.points.forEach(function (p) {
      if (!isFinite(p.y)) { pen = false; return; }
      path += (pen ? 'L' : 'M') + px(p.x).toFixed(1) + ' ' + py(p.y).toFixed(1) + ' ';
      pen = true;
    });
    if (path) g.appendChild(svgEl('path', { d: path, stroke: color, 'class': 'series' }));
    s.points.forEach(function (p) {
      if (!isFinite(p.y)) return;
      var dot = svgEl('circle', { cx: px(p.x).toFixed(1), cy: py(p.y).toFixed(1), r: 3, fill: color, 'class': 'point', 'data-x': p.x, 'data-y': p.y });
      dot.appendChild(svgEl('title', {}, s.name + ', round ' + p.x + ': ' + compact(p.y)));
      g.appendChild(dot);
    });
    svg.appendChild(g);
    if (series.length > 1 || s.name !== title) {
      svg.appendChild(svgEl('rect', { x: legendX, y: H - 14, width: 10, height: 10, fill: color }));
      svg.appendChild(svgEl('text', { x: legendX + 14, y: H - 5 }, s.name));
      legendX += 24 + s.name.length * 7;
    }
  });
  return figure;
}
`;
