// The statistical judge's evidence: per check, each version's rate, the
// relative risk's confidence sequence against the tolerance and the pass
// line (a log-scale sketch), the evidence against the canary towards its
// boundary, the blast-radius budget, and the verdict and hold. The server
// computes every number and position (judge_view.go); this only draws.
import { esc, clock } from './util.js';

// drawEvidence shows the judges of the newest run that has any.
export function drawEvidence(runs) {
  const section = document.getElementById('evidence-section');
  const el = document.getElementById('evidence');
  const run = runs.find((r) => r.judges && r.judges.length);
  section.hidden = !run;
  if (!run) {
    el.innerHTML = '';
    return;
  }
  el.innerHTML = `<p class="sub">Run <b>${esc(run.name)}</b>${run.revision ? ' on rev ' + esc(run.revision) : ''}
    · ${run.blocking ? 'step' : 'background'}${run.startedAt ? ' · started ' + clock(run.startedAt) : ''}
    · ${esc(run.phase)}</p>` + run.judges.map(judge).join('');
}

const verdictClass = { Pass: 'Successful', Fail: 'Failed', Wait: 'Inconclusive' };

function judge(j) {
  const verdict = j.verdict || 'Pending';
  const hold = j.hold
    ? `<span class="hold hold-on" title="${esc(j.holdReason)}">holding the weight</span>`
    : `<span class="hold hold-off">${j.holdWeight ? 'not holding' : 'never holds (holdWeight: false)'}</span>`;
  return `<div class="judge" data-judge="${esc(j.name)}" data-verdict="${esc(verdict)}" data-windows="${j.windows}" data-hold="${j.hold}">
    <p><span class="verdict verdict-${verdictClass[verdict] || esc(j.phase)}">${esc(verdict)}</span>
      <b>${esc(j.name)}</b> ${j.reason ? '<span class="reason">' + esc(j.reason) + '</span>' : ''} ${hold}
      <span class="sub">· ${esc(j.phase)}</span></p>
    <p class="explanation">${esc(j.explanation || j.message || 'no window judged yet')}</p>
    <p class="sub">${j.windows} windows · canary <b class="canary-requests">${j.canaryRequests}</b> requests
      (passes from ${j.minRequests}) · stable ${j.stableRequests} · α ${j.alpha}
      · fails above ${j.maxRelativeRisk}× stable, passes at ≤ ${j.passRelativeRisk}×</p>
    ${j.tests.length ? tests(j) : ''}
    ${budget(j.budget)}
    ${j.distribution ? distribution(j.distribution) : ''}
  </div>`;
}

function tests(j) {
  return `<table class="list evidence-table">
    <thead><tr><th>Check</th><th>Canary rate</th><th>Stable rate</th><th>Relative risk (confidence)</th>
      <th>Sketch (log scale)</th><th>Evidence against / boundary</th><th>State</th></tr></thead>
    <tbody>${j.tests.map((t) => `
      <tr data-test="${esc(t.name)}" data-state="${esc(t.state)}">
        <td><b>${esc(t.name)}</b>${t.threshold ? '<br><span class="sub">slower than ' + esc(t.threshold) + '</span>' : ''}</td>
        <td class="num rate-canary">${rate(t.canaryRate)}<br><span class="sub">${t.canaryEvents} events</span></td>
        <td class="num rate-stable">${rate(t.stableRate)}<br><span class="sub">${t.stableEvents} events</span></td>
        <td class="num rr">${num(t.relativeRisk)}×<br><span class="sub">${num(t.lower)}× to ${num(t.upper)}×</span></td>
        <td>${sketch(t.sketch, j)}</td>
        <td class="num">${meter(t.evidence, t.rejected ? 'bad' : '')}
          <span class="sub">${num(t.likelihoodRatio)} / ${num(t.boundary)}</span></td>
        <td><span class="state state-${esc(t.state)}">${esc(t.state)}</span></td>
      </tr>`).join('')}</tbody></table>`;
}

// rate writes events per request as a percentage.
function rate(s) {
  if (s === '' || s == null) return '–';
  const v = Number(s);
  return isFinite(v) ? (100 * v).toPrecision(3) + '%' : esc(s);
}

function num(s) {
  if (s === '' || s == null) return '?';
  return s === '+Inf' ? '∞' : esc(s);
}

const W = 240;
const H = 34;

// sketch draws the relative risk's confidence sequence on a log axis: the
// pass zone shaded, the tolerance and pass lines, the estimate as a dot.
function sketch(s, j) {
  const x = (p) => (6 + p * (W - 12)).toFixed(1);
  const y = 16;
  let out = `<svg class="sketch" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img"
    aria-label="relative risk ${s.lower == null ? '?' : ''} against tolerance ${j.maxRelativeRisk} and pass ${j.passRelativeRisk}">
    <rect x="${x(0)}" y="6" width="${(x(s.pass) - x(0)).toFixed(1)}" height="20" class="zone-pass"/>
    <line x1="${x(0)}" x2="${x(1)}" y1="${y}" y2="${y}" class="axis"/>
    <line x1="${x(s.one)}" x2="${x(s.one)}" y1="8" y2="24" class="tick"/>
    <line x1="${x(s.tolerance)}" x2="${x(s.tolerance)}" y1="3" y2="29" class="tolerance"><title>tolerance ${j.maxRelativeRisk}×</title></line>
    <line x1="${x(s.pass)}" x2="${x(s.pass)}" y1="3" y2="29" class="pass"><title>passes at ≤ ${j.passRelativeRisk}×</title></line>
    <text x="${x(0)}" y="${H - 1}" class="lbl">${fmtAxis(s.min)}×</text>
    <text x="${x(1)}" y="${H - 1}" class="lbl" text-anchor="end">${fmtAxis(s.max)}×</text>`;
  if (s.lower != null && s.upper != null) {
    out += `<line x1="${x(s.lower)}" x2="${x(s.upper)}" y1="${y}" y2="${y}" class="ci"/>`;
    if (!s.lowerOpen) out += `<line x1="${x(s.lower)}" x2="${x(s.lower)}" y1="11" y2="21" class="ci"/>`;
    if (!s.upperOpen) out += `<line x1="${x(s.upper)}" x2="${x(s.upper)}" y1="11" y2="21" class="ci"/>`;
    if (s.upperOpen) out += `<path d="M${x(1) - 6},11 L${x(1)},16 L${x(1) - 6},21" class="ci open"/>`;
  }
  if (s.estimate != null) out += `<circle cx="${x(s.estimate)}" cy="${y}" r="4" class="estimate"/>`;
  return out + '</svg>';
}

function fmtAxis(v) {
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toPrecision(1);
}

// meter is a 0..1 bar.
function meter(share, cls) {
  const pct = Math.max(0, Math.min(1, share)) * 100;
  return `<span class="meter ${cls}"><span style="width:${pct.toFixed(1)}%"></span></span>`;
}

function budget(b) {
  if (!b.limit) {
    return `<p class="budget sub">Blast-radius budget: none (maxCanaryFailures unset) · canary failures ${b.canaryFailures},
      ${num(b.expected)} expected from stable's rate</p>`;
  }
  return `<div class="budget" data-spent="${b.spent}"><span>Blast-radius budget</span>
    ${meter(b.spent, b.exhausted ? 'bad' : b.spent > 0.5 ? 'warn' : '')}
    <span class="num"><b>${num(b.excess)}</b> of ${b.limit} excess failures spent
    <span class="sub">(${b.canaryFailures} canary failures, ${num(b.expected)} expected from stable's rate)</span>
    ${b.exhausted ? '<b class="bad-text">exhausted</b>' : ''}</span></div>`;
}

function distribution(d) {
  return `<div class="budget"><span>Latency distribution</span>
    ${meter(d.share, d.rejected ? 'bad' : '')}
    <span class="num">canary below stable by up to ${num(d.distance)}, fails beyond ${num(d.bound)}
    ${d.rejected ? '<b class="bad-text">rejected</b>' : ''}</span></div>`;
}
