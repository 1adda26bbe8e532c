// Small helpers shared by the pages: escaping, formatting, the server's
// streams and commands. The server builds every view; these only draw.

export const csrf = document.querySelector('meta[name="csrf-token"]').content;

const entities = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// esc makes any text safe inside HTML (text or a quoted attribute).
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => entities[c]);
}

export const roleColors = { stable: '#2f6fd0', canary: '#e8772e', previous: '#9aa1ad' };

export const markerColors = {
  weight: '#6b4fd8', pause: '#b58b00', analysis: '#1b9e77', promote: '#2e9d3a',
  abort: '#d0312d', release: '#2f5fd0', step: '#8a8f99', other: '#b0b4bb',
};

// age says how long ago a time was, in its largest unit.
export function age(iso) {
  const t = Date.parse(iso);
  if (!t || t < 0) return '–';
  const s = Math.max(0, Math.floor((Date.now() - t) / 1000));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'd';
}

export function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour12: false });
}

export function rev(r) {
  return r ? '<span class="rev">rev ' + esc(r) + '</span>' : '<span class="none">–</span>';
}

export function phaseBadge(phase, aborted) {
  const p = aborted && phase === 'Degraded' ? 'Degraded · aborted' : phase;
  return '<span class="phase phase-' + esc(phase) + '">' + esc(p) + '</span>';
}

export function stepText(r) {
  return r.strategy === 'blueGreen' ? 'blue-green' : r.step + '/' + r.steps;
}

// setConn shows the state of the live connection.
export function setConn(state) {
  const el = document.getElementById('conn');
  el.textContent = state;
  el.className = 'conn conn-' + state.replace(/[^a-z]/g, '');
}

// live opens a server-sent event stream with a handler per event name.
// A stream the server refuses (the session ended) sends to the login page.
export function live(url, handlers) {
  const es = new EventSource(url);
  es.onopen = () => setConn('live');
  es.onerror = () => {
    if (es.readyState !== EventSource.CLOSED) {
      setConn('reconnecting');
      return;
    }
    setConn('disconnected');
    fetch('/dashboard/api/rollouts').then((r) => {
      if (r.status === 401) location.href = '/dashboard/login';
    });
  };
  es.addEventListener('logout', () => { location.href = '/dashboard/login'; });
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  return es;
}

// post sends a state-changing request with the session's CSRF token.
export async function post(path) {
  const r = await fetch(path, { method: 'POST', headers: { 'X-CSRF-Token': csrf } });
  let body = {};
  try { body = await r.json(); } catch (_) { /* an empty answer */ }
  if (r.status === 401) location.href = '/dashboard/login';
  if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
  return body;
}

let toastTimer;

// toast shows a short message; failures stay until the next one.
export function toast(text, failed) {
  const el = document.getElementById('toast');
  el.textContent = text;
  el.className = failed ? 'failed' : '';
  el.hidden = false;
  clearTimeout(toastTimer);
  if (!failed) toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

// confirmDialog asks before acting; it resolves to true on Confirm.
export function confirmDialog(title, text, danger) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').className = danger ? 'danger' : '';
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
  });
}
