// The rollout page: facts, buttons, steps, traffic split, charts, analysis
// and markers, redrawn from each "detail" the server streams.
import {
  esc, age, clock, rev, phaseBadge, stepText, live, post, toast, confirmDialog, markerColors, roleColors,
} from './util.js';
import { Charts } from './charts.js';
import { drawEvidence } from './evidence.js';

// actions are the buttons: what each asks before acting, and when it
// makes no sense (the daemon refuses it anyway, with a reason).
const actions = [
  { cmd: 'promote', label: 'Promote', title: 'Promote',
    text: (d) => `End the current step of ${d.name} (a pause or an analysis) and go on to the next one.`,
    off: (d) => !d.canaryRevision || d.aborted },
  { cmd: 'promote-full', label: 'Promote full', title: 'Promote fully', danger: true,
    text: (d) => `Skip every remaining step and analysis of ${d.name}: revision ${d.canaryRevision} gets all the traffic now.`,
    off: (d) => !d.canaryRevision || d.aborted },
  { cmd: 'pause', label: 'Pause', title: 'Pause',
    text: (d) => `Hold ${d.name} where it is: no step advances and no weight changes until resumed.`,
    off: (d) => !d.canaryRevision || d.aborted },
  { cmd: 'resume', label: 'Resume', title: 'Resume',
    text: (d) => `Resume ${d.name}: lift its pause and go on.`,
    off: (d) => !d.paused },
  { cmd: 'abort', label: 'Abort', title: 'Abort', danger: true,
    text: (d) => `Abort the release of revision ${d.canaryRevision}: all traffic goes back to stable revision ${d.stableRevision} and the canary is scaled down.`,
    off: (d) => !d.canaryRevision || d.aborted },
  { cmd: 'retry', label: 'Retry', title: 'Retry',
    text: (d) => `Release revision ${d.canaryRevision} again, from the first step.`,
    off: (d) => !d.aborted },
  { cmd: 'undo', label: 'Undo', title: 'Undo', danger: true,
    text: (d) => `Go back to the previous stable revision of ${d.name}, promoted at once without steps.`,
    off: () => false },
];

export function rolloutPage(main, name) {
  document.title = name + ' · Fledge';
  main.innerHTML = `
    <nav class="crumbs"><a href="/dashboard/">Rollouts</a> / ${esc(name)}</nav>
    <h1><span id="name">${esc(name)}</span> <span id="phase-badge"></span></h1>
    <p id="message" class="message"></p>
    <dl class="facts">
      <div><dt>Step</dt><dd id="step">–</dd></div>
      <div><dt>Canary weight</dt><dd id="weight">–</dd></div>
      <div><dt>Stable</dt><dd id="stable">–</dd></div>
      <div><dt>Canary</dt><dd id="canary">–</dd></div>
      <div><dt>Replicas ready</dt><dd id="replicas">–</dd></div>
      <div><dt>Age</dt><dd id="age">–</dd></div>
    </dl>
    <div class="actions" id="actions">${actions.map((a) =>
      `<button data-cmd="${a.cmd}" class="${a.danger ? 'danger' : ''}">${esc(a.label)}</button>`).join('')}</div>
    <section><h2>Steps</h2><ol id="steps" class="timeline"></ol></section>
    <section><h2>Traffic split</h2><div id="split" class="split"></div></section>
    <section><h2>Per version</h2>
      <p class="legend" id="marker-legend">${Object.entries(markerColors).filter(([k]) => k !== 'step')
        .map(([k, c]) => `<span><i style="border-color:${c}"></i>${k}</span>`).join('')}</p>
      <div id="charts" class="charts"><p class="none">Waiting for traffic…</p></div></section>
    <section id="evidence-section" hidden><h2>Judge evidence</h2><div id="evidence"></div></section>
    <section><h2>Analysis</h2><div id="analysis"></div></section>
    <section><h2>Events</h2><table id="markers" class="list"><thead><tr>
      <th>Time</th><th>Kind</th><th>Reason</th><th>Message</th><th>Who</th></tr></thead><tbody></tbody></table></section>`;

  const charts = new Charts(document.getElementById('charts'));
  let current = null;

  document.getElementById('actions').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-cmd]');
    if (!b || !current) return;
    const a = actions.find((x) => x.cmd === b.dataset.cmd);
    if (!(await confirmDialog(a.title + ' ' + name + '?', a.text(current), a.danger))) return;
    try {
      await post(`/dashboard/api/rollouts/${encodeURIComponent(name)}/${a.cmd}`);
      toast(`${a.label}: sent to ${name}`);
    } catch (err) {
      toast(`${a.label} refused: ${err.message}`, true);
    }
  });

  live(`/dashboard/api/rollouts/${encodeURIComponent(name)}/stream`, {
    detail: (d) => {
      current = d;
      draw(d);
      if (d.noMetrics) noMetrics(d.noMetrics);
      else charts.update(d.revisions, d.markers);
    },
    samples: (s) => charts.add(s.series),
    failure: (f) => toast(f.error, true),
  });
  setInterval(() => { if (current) document.getElementById('age').textContent = age(current.created); }, 1000);
}

function draw(d) {
  const main = document.getElementById('main');
  main.dataset.phase = d.phase;
  main.dataset.weight = d.canaryWeight;
  document.getElementById('phase-badge').innerHTML = phaseBadge(d.phase, d.aborted);
  const reasons = d.pauseReasons ? ' (paused: ' + d.pauseReasons.join(', ') + ')' : '';
  document.getElementById('message').textContent = (d.message || '') + reasons;
  document.getElementById('step').textContent = stepText(d);
  document.getElementById('weight').textContent = d.canaryWeight + '%';
  document.getElementById('stable').innerHTML = rev(d.stableRevision);
  document.getElementById('canary').innerHTML = rev(d.canaryRevision);
  document.getElementById('replicas').textContent = d.replicas.ready + '/' + d.replicas.total;
  document.getElementById('age').textContent = age(d.created);
  main.dataset.mode = d.mode;
  for (const b of document.querySelectorAll('#actions button')) {
    // A button the source cannot do is disabled with the reason as its tooltip.
    const why = (d.disabled || {})[b.dataset.cmd];
    b.disabled = !!why || actions.find((a) => a.cmd === b.dataset.cmd).off(d);
    b.title = why || '';
  }
  drawSteps(d);
  changed('split', d.split, drawSplit);
  changed('evidence', d.analysis, drawEvidence);
  changed('analysis', d.analysis, drawAnalysis);
  changed('markers', d.markers, drawMarkers);
}

const drawn = {};

// changed redraws a section only when its data changed, so that what the
// user opened or selected there stays as it was.
function changed(section, data, fn) {
  const s = JSON.stringify(data);
  if (drawn[section] === s) return;
  drawn[section] = s;
  fn(data);
}

function drawSteps(d) {
  const el = document.getElementById('steps');
  if (d.strategy === 'blueGreen') {
    el.innerHTML = '<li class="none">Blue-green: preview, then switch.</li>';
    return;
  }
  el.innerHTML = d.stepList.map((s) => {
    const state = s.state === 'current' && d.aborted ? 'aborted' : s.state;
    const tag = state === 'current' ? '<b class="tag">current</b>' : state === 'aborted' ? '<b class="tag">aborted</b>' : '';
    return `<li class="step step-${state}" data-state="${state}"><span class="n">${s.index + 1}</span>${esc(s.text)} ${tag}</li>`;
  }).join('');
}

function bar(shares) {
  if (!shares.length) return '<div class="bar empty">no traffic</div>';
  return '<div class="bar">' + shares.map((s) =>
    `<span class="seg" style="flex-basis:${s.percent}%;background:${roleColors[s.role] || roleColors.previous}"
      title="rev ${esc(s.revision)} ${s.percent.toFixed(1)}%"></span>`).join('') + '</div>' +
    '<ul class="shares">' + shares.map((s) =>
      `<li><i style="background:${roleColors[s.role] || roleColors.previous}"></i>rev ${esc(s.revision)} (${esc(s.role)})
        <b>${s.percent.toFixed(1)}%</b>${s.requests ? ' · ' + s.requests + ' req' : ''}</li>`).join('') + '</ul>';
}

function drawSplit(s) {
  const observed = s.noSource
    ? `<p class="sub">${esc(s.observedSource)}</p><div class="bar empty">no metrics source</div>`
    : `<p class="sub">${esc(s.observedSource)}, last ${s.windowSeconds}s (${s.observedTotal} requests)</p>
      ${bar(s.observedTotal ? s.observed : [])}`;
  document.getElementById('split').innerHTML = `
    <div id="split-applied"><h3>Applied</h3><p class="sub">what the router was told</p>${bar(s.applied)}</div>
    <div id="split-observed"><h3>Observed</h3>${observed}</div>`;
}

// noMetrics says why there are no charts, instead of empty ones.
function noMetrics(why) {
  const el = document.getElementById('charts');
  if (el.querySelector('#no-metrics')) return;
  el.innerHTML = `<p class="none" id="no-metrics"><b>No metrics source.</b> ${esc(why)}</p>`;
  document.getElementById('marker-legend').style.display = 'none'; // no lines to explain
}

function drawAnalysis(runs) {
  const el = document.getElementById('analysis');
  if (!runs.length) {
    el.innerHTML = '<p class="none">No analysis run yet.</p>';
    return;
  }
  const open = new Map([...el.querySelectorAll('details.run')].map((x) => [x.dataset.name, x.open]));
  el.innerHTML = runs.map((r, i) => `
    <details class="run" data-name="${esc(r.name)}" ${(open.has(r.name) ? open.get(r.name) : i < 3) ? 'open' : ''}>
      <summary><span class="verdict verdict-${esc(r.phase)}">${esc(r.phase)}</span>
        <b>${esc(r.name)}</b> ${r.revision ? 'on rev ' + esc(r.revision) : ''}
        · ${r.blocking ? 'step' : 'background'} ${r.startedAt ? '· started ' + clock(r.startedAt) : ''}
        ${r.message ? '<span class="sub">— ' + esc(r.message) + '</span>' : ''}</summary>
      ${r.metrics.map(metric).join('')}
    </details>`).join('');
}

function metric(m) {
  const conds = [m.successCondition && 'success when <code>' + esc(m.successCondition) + '</code>',
    m.failureCondition && 'failure when <code>' + esc(m.failureCondition) + '</code>'].filter(Boolean).join(', ');
  return `<div class="metric">
    <p><span class="verdict verdict-${esc(m.phase)}">${esc(m.phase)}</span> <b>${esc(m.name)}</b>
      <span class="sub">${esc(m.provider)}</span> · ${conds}
      · ${m.successful} ok, ${m.failed} failed, ${m.inconclusive} inconclusive, ${m.error} errors</p>
    ${m.message ? '<p class="sub">' + esc(m.message) + '</p>' : ''}
    <ol class="measurements">${m.measurements.map((x) =>
      `<li class="verdict-${esc(x.phase)}" title="${esc(x.phase)} ${x.time ? clock(x.time) : ''} ${esc(x.message)}">
        ${esc(x.value || x.phase)}</li>`).join('')}</ol>
  </div>`;
}

function drawMarkers(ms) {
  document.querySelector('#markers tbody').innerHTML = ms.slice().reverse().map((m) => `
    <tr class="${m.warning ? 'warning' : ''}" data-reason="${esc(m.reason)}" data-who="${esc(m.who)}">
      <td>${clock(m.time)}</td>
      <td><span class="kind" style="border-color:${markerColors[m.kind] || markerColors.other}">${esc(m.kind)}</span></td>
      <td>${esc(m.reason)}</td><td>${esc(m.message)}</td><td class="who">${esc(m.who)}</td></tr>`).join('');
}
