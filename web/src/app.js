// The dashboard's single page: the address says which view to draw.
import { esc, age, rev, phaseBadge, stepText, live, post, toast } from './util.js';
import { rolloutPage } from './rollout.js';

const main = document.getElementById('main');

function listPage() {
  document.title = 'Rollouts · Fledge';
  main.innerHTML = `
    <h1>Rollouts</h1>
    <table id="rollouts" class="list">
      <thead><tr><th>Name</th><th>Phase</th><th>Step</th><th>Canary weight</th>
        <th>Stable</th><th>Canary</th><th>Age</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="empty" class="none" hidden>No rollout yet: <code>fledge apply -f rollout.yaml</code> starts one.</p>`;
  let rows = [];
  const draw = () => {
    document.getElementById('empty').hidden = rows.length > 0;
    document.querySelector('#rollouts tbody').innerHTML = rows.map((r) => `
      <tr data-name="${esc(r.name)}">
        <td><a href="/dashboard/rollouts/${encodeURIComponent(r.name)}">${esc(r.name)}</a></td>
        <td>${phaseBadge(r.phase, r.aborted)}</td>
        <td>${stepText(r)}</td>
        <td class="num weight">${r.canaryWeight}%</td>
        <td>${rev(r.stableRevision)}</td>
        <td>${rev(r.canaryRevision)}</td>
        <td>${age(r.created)}</td>
      </tr>`).join('');
  };
  live('/dashboard/api/stream', {
    list: (l) => { rows = l; draw(); },
    failure: (f) => toast(f.error, true),
  });
  setInterval(draw, 1000); // the ages
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await post('/dashboard/logout'); } catch (_) { /* logged out already */ }
  location.href = '/dashboard/login';
});

const m = location.pathname.match(/^\/dashboard\/rollouts\/([^/]+)\/?$/);
if (m) {
  rolloutPage(main, decodeURIComponent(m[1]));
} else {
  listPage();
}
