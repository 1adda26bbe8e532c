// Per-version charts over time (uPlot), with the deployment markers drawn
// as vertical lines: requests/s, error rate, p50 and p99 latency.
import { roleColors, markerColors } from './util.js';

const charts = [
  { id: 'rps', title: 'Requests/s', field: 'rps', fmt: (v) => v.toFixed(1) },
  { id: 'errors', title: 'Error rate (%)', field: 'errorRate', scale: 100, fmt: (v) => v.toFixed(2) + '%' },
  { id: 'p50', title: 'Latency p50 (ms)', field: 'p50Ms', fmt: (v) => v.toFixed(1) + ' ms' },
  { id: 'p99', title: 'Latency p99 (ms)', field: 'p99Ms', fmt: (v) => v.toFixed(1) + ' ms' },
];

// retentionSeconds matches the server's default: older points are dropped.
const retentionSeconds = 15 * 60;

// Charts keeps the points per revision and the uPlot instances.
export class Charts {
  constructor(el) {
    this.el = el;
    this.points = {}; // revision -> [{t, rps, ...}]
    this.roles = []; // [{revision, role}]
    this.markers = [];
    this.plots = [];
    this.key = '';
    this.resize = () => this.plots.forEach((u) => u.setSize(this.size()));
    window.addEventListener('resize', this.resize);
  }

  // add appends the points of a "samples" event.
  add(series) {
    for (const [rev, ps] of Object.entries(series)) {
      this.points[rev] = (this.points[rev] || []).concat(ps);
    }
    const oldest = Date.now() / 1000 - retentionSeconds;
    for (const rev of Object.keys(this.points)) {
      this.points[rev] = this.points[rev].filter((p) => p.t >= oldest);
    }
    this.draw();
  }

  // update takes the roles of the revisions and the markers from a "detail".
  update(roles, markers) {
    this.roles = roles;
    // Completed steps go with the weight change or pause that ends them.
    this.markers = markers.filter((m) => m.kind !== 'step')
      .map((m) => ({ t: Date.parse(m.time) / 1000, kind: m.kind, reason: m.reason }));
    this.draw();
  }

  // revisions are the roles' revisions, then any other that has points.
  revisions() {
    const out = this.roles.map((r) => ({ ...r }));
    for (const rev of Object.keys(this.points).sort()) {
      if (!out.some((r) => r.revision === rev)) out.push({ revision: rev, role: 'previous' });
    }
    return out.filter((r) => this.points[r.revision]);
  }

  size() {
    const w = Math.max(280, Math.floor((this.el.clientWidth - 24) / 2));
    return { width: w, height: 190 };
  }

  draw() {
    if (typeof uPlot === 'undefined') return;
    const revs = this.revisions();
    if (!revs.length) return; // no traffic yet: keep the placeholder
    const key = revs.map((r) => r.revision + ':' + r.role).join(',');
    if (key !== this.key) this.build(revs, key);
    for (const [i, c] of charts.entries()) this.plots[i].setData(this.data(revs, c));
  }

  // build makes the plots anew, when the set of revisions changes.
  build(revs, key) {
    this.plots.forEach((u) => u.destroy());
    this.el.innerHTML = '';
    this.key = key;
    this.plots = charts.map((c) => {
      const box = document.createElement('div');
      box.className = 'chart';
      box.id = 'chart-' + c.id;
      this.el.appendChild(box);
      return new uPlot({
        ...this.size(),
        title: c.title,
        scales: { x: { time: true } },
        series: [{}].concat(revs.map((r) => ({
          label: 'rev ' + r.revision + ' (' + r.role + ')',
          stroke: roleColors[r.role] || roleColors.previous,
          width: 2,
          value: (u, v) => (v == null ? '–' : c.fmt(v)),
        }))),
        axes: [{}, { size: 56 }],
        legend: { live: true },
        plugins: [this.markerPlugin()],
      }, this.data(revs, c), box);
    });
  }

  // data aligns every revision's values on the union of sample times.
  data(revs, c) {
    const ts = [...new Set(revs.flatMap((r) => this.points[r.revision].map((p) => p.t)))].sort((a, b) => a - b);
    const index = new Map(ts.map((t, i) => [t, i]));
    const cols = revs.map((r) => {
      const col = new Array(ts.length).fill(null);
      for (const p of this.points[r.revision]) {
        const v = p[c.field];
        col[index.get(p.t)] = v == null ? null : v * (c.scale || 1);
      }
      return col;
    });
    return [ts, ...cols];
  }

  // markerPlugin draws each deployment marker as a dashed vertical line.
  markerPlugin() {
    return {
      hooks: {
        draw: [(u) => {
          const { left, top, width, height } = u.bbox;
          const ctx = u.ctx;
          for (const m of this.markers) {
            const x = Math.round(u.valToPos(m.t, 'x', true));
            if (x < left || x > left + width) continue;
            ctx.save();
            ctx.strokeStyle = markerColors[m.kind] || markerColors.other;
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            ctx.restore();
          }
        }],
      },
    };
  }

  destroy() {
    window.removeEventListener('resize', this.resize);
    this.plots.forEach((u) => u.destroy());
  }
}
