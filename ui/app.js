/* kith web page: vanilla ES2020, no framework, no build step.
 *
 * Security: every value from the API is untrusted text (colleagues write it). The page
 * never uses innerHTML, eval or inline handlers: the DOM is built with createElement /
 * textContent (helpers h() and svg() below), links are made only from our own routes,
 * https?:// URLs, mailto: and tel:. It runs under the server's strict CSP.
 *
 * Stable hooks for browser tests (data-test attributes):
 *   app, banner, banner-text, banner-close   main area; error banner and its dismiss button
 *   live (data-state=open|connecting|closed)  live-update (event stream) status dot
 *   peers-online                              "N/M peers online" in the top bar
 *   nav-records, nav-peers, nav-import, nav-new-person, nav-new-org   navigation
 *   login-needed                              the screen shown when there is no session (401)
 * Records list (#/):
 *   search                                    search box (search as you type)
 *   filter-kind, filter-tag, filter-org, filter-owner, filter-shared, filter-stale,
 *   filter-deleted, filter-clear              filters
 *   count, took                               "N records", the server's time
 *   row (data-id=ID)                          a record row; row-private: its private marker;
 *                                             row-map: an organisation row's account map link
 *   prev, next                                paging
 * Record (#/r/ID):
 *   record (data-id), record-name, tab-fields, tab-history, history, history-op
 *   field-NAME                                one row per field (data-private="1" if private)
 *   value-NAME                                its shown value
 *   private-NAME                              the "private" marker of a private value
 *   edit-NAME, input-NAME, save-NAME, cancel-NAME   inline editing (input-NAME: the input,
 *                                             select or, for lists, the new-item input)
 *   add-NAME, remove-NAME (data-value)        list editing: add an item, remove an item
 *   private-check-NAME                        "private" checkbox when giving a new value
 *   make-private-NAME                         make the current value private (asks first:
 *   make-private-confirm, make-private-cancel)
 *   publish-NAME                              "Share this value…" (opens the dialog)
 *   publish-confirm, publish-cancel           the publish dialog's buttons
 *   share-target, share-role, share-go        sharing panel; unshare (data-target)
 *   delete, restore, confirm, cancel          delete / restore (confirm dialog buttons)
 *   map-link                                  link to the account map of the record's org
 *   picker-result (data-id)                   a result of the record picker (reports_to)
 * New record (#/new/person, #/new/org):
 *   new-form, new-NAME (inputs), new-private-NAME (checkboxes), new-create
 * Account map (#/map/ORG):
 *   map (the <svg>), map-node (data-id), unplaced (data-id), map-print, map-svg, map-png
 * Peers (#/peers):
 *   node-id, copy-node-id, qr, peer (data-name, data-online), peer-dot, groups
 * Import (#/import):
 *   import-drop, import-file, import-format, import-go, import-progress, import-result,
 *   import-added, import-updated, import-unchanged, import-skipped, import-errors
 */
'use strict';

const S = { session: null, csrf: '', peers: null, status: null, view: null, events: null };

/* ---------- DOM helpers ---------- */

function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k in el && !k.startsWith('data-') && !k.startsWith('aria-') && k !== 'list' && k !== 'form')
        el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, kids);
  return el;
}
function add(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}
const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else el.setAttribute(k, String(v));
  }
  add(el, kids);
  return el;
}
function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

const ICONS = {
  lock: 'M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1h1zm2 0h6V7a3 3 0 0 0-6 0v3z',
  person: 'M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4.4 0-8 2.2-8 5v2h16v-2c0-2.8-3.6-5-8-5z',
  org: 'M4 21V5l8-3v5l8 3v11h-6v-4h-4v4H4zm3-13v2h2V8H7zm0 4v2h2v-2H7zm4-4v2h2V8h-2zm0 4v2h2v-2h-2zm4 0v2h2v-2h-2z',
  share: 'M18 16a3 3 0 0 0-2.4 1.2l-6.7-3.4a3 3 0 0 0 0-1.6l6.7-3.4A3 3 0 1 0 15 7l-6.7 3.4a3 3 0 1 0 0 3.2L15 17a3 3 0 1 0 3-1z',
  map: 'M9 3 3 5v16l6-2 6 2 6-2V3l-6 2-6-2zm0 2.2 6 2v11.6l-6-2V5.2z',
  edit: 'M4 17.2V20h2.8l8.3-8.3-2.8-2.8L4 17.2zM19.7 7a1 1 0 0 0 0-1.4l-1.3-1.3a1 1 0 0 0-1.4 0l-1.6 1.6 2.8 2.8L19.7 7z',
  copy: 'M8 3h11a2 2 0 0 1 2 2v11h-2V5H8V3zM5 7h10a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2z',
  upload: 'M12 3l5 5h-3v6h-4V8H7l5-5zM5 17h14v3H5v-3z',
};
function icon(name, cls) {
  return svg('svg', { viewBox: '0 0 24 24', width: 16, height: 16, class: 'icon ' + (cls || ''), 'aria-hidden': 'true', fill: 'currentColor' },
    svg('path', { d: ICONS[name] }));
}
function privateMarker(field) {
  return h('span', { class: 'private-tag', 'data-test': field ? 'private-' + field : null, title: 'Private: only you (and your own devices) see this value' },
    icon('lock'), 'private');
}

/* ---------- formatting ---------- */

const FIELDS = [
  // name, type, label, group
  ['name', 'text', 'Name', 'contact'], ['given', 'text', 'Given name', 'contact'], ['family', 'text', 'Family name', 'contact'],
  ['org', 'text', 'Organisation', 'contact'], ['title', 'text', 'Job title', 'contact'], ['department', 'text', 'Department', 'contact'],
  ['emails', 'list', 'E-mail', 'contact'], ['phones', 'list', 'Phone', 'contact'], ['addresses', 'list', 'Postal address', 'contact'],
  ['urls', 'list', 'Web', 'contact'], ['tags', 'list', 'Tags', 'contact'], ['note', 'longtext', 'Note', 'contact'],
  ['reports_to', 'record', 'Reports to', 'account'], ['buying_role', 'word', 'Buying role', 'account'],
  ['influence', 'number', 'Influence', 'account'], ['attitude', 'number', 'Attitude', 'account'],
  ['last_interaction', 'date', 'Last interaction', 'account'], ['our_owner', 'text', 'Our owner', 'account'],
  ['relations', 'list', 'Relations', 'account'],
  ['priorities', 'longtext', 'Priorities', 'intel'], ['pain_points', 'longtext', 'Pain points', 'intel'],
  ['motivations', 'longtext', 'Motivations', 'intel'], ['politics', 'longtext', 'Politics', 'intel'],
  ['decision_process', 'longtext', 'Decision process', 'intel'], ['decision_criteria', 'longtext', 'Decision criteria', 'intel'],
  ['projects', 'longtext', 'Projects', 'intel'], ['capacity_gaps', 'longtext', 'Capacity gaps', 'intel'],
  ['merged_into', 'record', 'Merged into', 'other'], ['vcard_extra', 'list', 'vCard extra', 'other'],
];
const FIELD = Object.fromEntries(FIELDS.map(([n, t, l, g]) => [n, { name: n, type: t, label: l, group: g }]));
const SINGULAR = { tags: 'tag', emails: 'e-mail address', phones: 'phone number', urls: 'web address', addresses: 'postal address',
  relations: 'relation, TYPE:REF (e.g. manager:Ada)', vcard_extra: 'vCard line' };
const PERSON_ONLY = new Set(['given', 'family', 'org', 'title', 'department', 'reports_to', 'buying_role', 'influence', 'attitude']);
const GROUPS = [['contact', 'Contact'], ['account', 'Account'], ['intel', 'Intelligence'], ['other', 'Other']];
const ROLES = ['decision-maker', 'economic-buyer', 'technical-buyer', 'champion', 'influencer', 'user', 'gatekeeper', 'blocker', 'coach'];
const ATTITUDE = { '-2': 'strongly against', '-1': 'against', '0': 'neutral', '1': 'for us', '2': 'strongly for us' };
const INFLUENCE = { 0: 'none', 1: 'very low', 2: 'low', 3: 'medium', 4: 'high', 5: 'very high' };
const META = new Set(['id', 'kind', 'private_fields', 'private', 'deleted', 'owner', 'owner_name', 'audience', 'shares',
  'no_longer_shared_since', 'created', 'updated', 'can_edit', 'mine']);

function fieldInfo(name) {
  return FIELD[name] || { name, type: 'text', label: name, group: 'other' };
}
function fmtDate(s) {
  if (!s) return '';
  const d = new Date(s.length === 10 ? s + 'T00:00:00' : s);
  if (isNaN(d)) return s;
  const o = { year: 'numeric', month: 'short', day: 'numeric' };
  if (s.length > 10) { o.hour = '2-digit'; o.minute = '2-digit'; }
  return d.toLocaleString(undefined, o);
}
function daysSince(s) {
  if (!s) return Infinity;
  const d = new Date(s + 'T00:00:00');
  return Math.floor((Date.now() - d.getTime()) / 86400000);
}
function ago(s) {
  if (!s) return 'never';
  const t = (Date.now() - new Date(s).getTime()) / 1000;
  if (isNaN(t)) return s;
  if (t < 60) return 'just now';
  if (t < 3600) return Math.round(t / 60) + ' min ago';
  if (t < 86400) return Math.round(t / 3600) + ' h ago';
  if (t < 86400 * 30) return Math.round(t / 86400) + ' days ago';
  return fmtDate(s);
}
function signed(n) { return n > 0 ? '+' + n : String(n); }
function showValue(name, v) {
  if (v === null || v === undefined) return '';
  if (name === 'attitude') return signed(v) + ' (' + (ATTITUDE[v] || '') + ')';
  if (name === 'influence') return v + ' (' + (INFLUENCE[v] || '') + ')';
  if (name === 'last_interaction') return fmtDate(v);
  if (Array.isArray(v)) return v.map((x) => showValue(name, x)).join(', ');
  if (typeof v === 'object') return isRelation(v) ? v.type + ': ' + shortId(v.target) : JSON.stringify(v);
  return String(v);
}
function isRelation(v) { return v && typeof v === 'object' && typeof v.type === 'string' && typeof v.target === 'string'; }
// A list item as the API takes it back ("TYPE:REF" for a relation).
function itemText(x) { return isRelation(x) ? x.type + ':' + x.target : String(x); }
function shortId(id) { return id ? String(id).slice(0, 8) : ''; }

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(method, path, body, opts = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal: opts.signal };
  if (method !== 'GET' && method !== 'HEAD') {
    init.headers['X-Kith-CSRF'] = S.csrf;
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body || {});
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    const err = new ApiError(0, 'kith is not answering. Is `kith serve` still running?');
    if (!opts.quiet) banner(err.message);
    throw err;
  }
  let data = null;
  const ct = res.headers.get('Content-Type') || '';
  if (ct.includes('json')) { try { data = await res.json(); } catch (e) { data = null; } }
  if (!res.ok) {
    const msg = (data && data.error) || ('The server answered ' + res.status + ' ' + res.statusText + '.');
    const err = new ApiError(res.status, msg);
    if (res.status === 401 && S.session) { showLogin(); throw err; }
    if (!opts.quiet) banner(msg);
    throw err;
  }
  return data;
}
function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined && v !== false) u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

/* ---------- banner, dialogs ---------- */

let bannerTimer = null;
function banner(msg, kind) {
  const b = document.getElementById('banner');
  clearTimeout(bannerTimer);
  if (kind === 'info') bannerTimer = setTimeout(hideBanner, 6000); // errors stay until dismissed
  document.getElementById('banner-text').textContent = msg;
  b.className = 'banner ' + (kind === 'info' ? 'banner-info' : 'banner-error');
  b.hidden = false;
}
function hideBanner() { document.getElementById('banner').hidden = true; }

/* A modal dialog: title, body nodes, buttons [{label, cls, test, value}] → Promise(value|null). */
function dialog(title, body, buttons) {
  const d = document.getElementById('dialog');
  clear(d);
  return new Promise((resolve) => {
    let done = false;
    const finish = (v) => { if (done) return; done = true; if (d.open) d.close(); resolve(v); };
    const form = h('div', { class: 'dialog-inner' },
      h('h2', { class: 'dialog-title', text: title }),
      h('div', { class: 'dialog-body' }, body),
      h('div', { class: 'dialog-buttons' }, buttons.map((b) =>
        h('button', { type: 'button', class: 'btn ' + (b.cls || ''), 'data-test': b.test, text: b.label,
          on: { click: () => finish(b.value) } }))));
    d.appendChild(form);
    d.oncancel = () => finish(null);
    d.onclose = () => finish(null);
    d.showModal();
    const def = d.querySelector('.btn-default') || d.querySelector('button');
    if (def) def.focus();
  });
}

/* ---------- session and startup ---------- */

function showLogin() {
  S.session = null;
  if (S.events) { S.events.close(); S.events = null; }
  document.body.classList.add('no-session');
  const app = clear(document.getElementById('app'));
  app.appendChild(h('section', { class: 'login card', 'data-test': 'login-needed' },
    h('img', { src: '/ui/logo.svg', alt: '', width: 48, height: 48 }),
    h('h1', { text: 'Open kith from a terminal' }),
    h('p', null, 'This page needs a login link from your own kith. In a terminal, run'),
    h('pre', { class: 'mono cmd' }, 'kith ui'),
    h('p', null, 'and open the address it prints (or run ', h('code', { text: 'kith ui --open' }),
      '). The link works once, for two minutes, so a copied or bookmarked link will not open the page again.'),
    h('p', { class: 'muted' }, 'Is the daemon running? ', h('code', { text: 'kith serve' }), ' starts it.')));
  setLive('closed');
}

async function start() {
  document.getElementById('banner-close').addEventListener('click', hideBanner);
  try {
    S.session = await api('GET', '/api/session', null, { quiet: true });
  } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    const app = clear(document.getElementById('app'));
    app.appendChild(h('section', { class: 'login card' }, h('h1', { text: 'kith is not answering' }),
      h('p', { text: e.message }), h('button', { class: 'btn btn-primary', type: 'button', text: 'Try again', on: { click: () => location.reload() } })));
    return;
  }
  S.csrf = S.session.csrf;
  document.getElementById('whoami').textContent = S.session.name || '';
  document.getElementById('whoami').title = 'This node: ' + (S.session.name || '') + ' · kith ' + (S.session.version || '');
  window.addEventListener('hashchange', route);
  document.addEventListener('keydown', (e) => {
    // "/" jumps to the search box, as in most list tools
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    e.preventDefault();
    const box = document.querySelector('[data-test=search]');
    if (box) box.focus(); else location.hash = '#/';
  });
  startEvents();
  refreshStatus();
  route();
}

/* ---------- live updates ---------- */

function setLive(state) {
  const el = document.getElementById('live');
  el.dataset.state = state;
  const text = { open: 'live', connecting: 'connecting', closed: 'offline' }[state];
  document.getElementById('live-text').textContent = text;
  el.title = state === 'open' ? 'Live updates: connected; the page follows changes as they happen'
    : state === 'connecting' ? 'Live updates: reconnecting…' : 'Live updates: not connected';
}

let changeTimer = null;
function startEvents() {
  if (!window.EventSource) return;
  const es = new EventSource('/api/events', { withCredentials: true });
  S.events = es;
  setLive('connecting');
  es.addEventListener('open', () => setLive('open'));
  es.addEventListener('error', () => setLive(es.readyState === EventSource.CLOSED ? 'closed' : 'connecting'));
  es.addEventListener('change', () => {
    clearTimeout(changeTimer);
    changeTimer = setTimeout(() => {
      nameCache.clear(); // a linked record may have been renamed
      if (S.view && S.view.refresh) S.view.refresh('change');
    }, 150);
  });
  es.addEventListener('pair', () => {
    if (S.view && S.view.refresh && S.view.name === 'peers') S.view.refresh('pair');
  });
  es.addEventListener('status', () => {
    refreshStatus();
    if (S.view && S.view.refresh && S.view.name === 'peers') S.view.refresh('status');
  });
}

async function refreshStatus() {
  try {
    S.status = await api('GET', '/api/status', null, { quiet: true });
  } catch (e) { return; }
  const peers = S.status.peers || [];
  const on = peers.filter((p) => p.online).length;
  let el = document.getElementById('peers-online');
  if (!el) {
    el = h('a', { id: 'peers-online', class: 'peers-online', href: '#/peers', 'data-test': 'peers-online' });
    document.querySelector('.topbar-right').insertBefore(el, document.getElementById('live'));
  }
  el.textContent = on + '/' + peers.length + ' peers online';
  el.classList.toggle('some', on > 0);
}

/* ---------- routing ---------- */

function route() {
  const hash = location.hash || '#/';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (S.view && S.view.leave) S.view.leave();
  const app = clear(document.getElementById('app'));
  hideBanner();
  let view;
  if (parts.length === 0) view = viewRecords(params);
  else if (parts[0] === 'r' && parts[1]) view = viewRecord(parts[1], params);
  else if (parts[0] === 'new' && (parts[1] === 'person' || parts[1] === 'org')) view = viewNew(parts[1], params);
  else if (parts[0] === 'map' && parts[1]) view = viewMap(parts.slice(1).join('/'));
  else if (parts[0] === 'peers') view = viewPeers();
  else if (parts[0] === 'import') view = viewImport();
  else view = { name: 'none', el: h('section', { class: 'card empty-state' }, h('h1', { text: 'Nothing here' }), h('p', null, h('a', { href: '#/', text: 'Back to the records' }))) };
  S.view = view;
  document.body.dataset.view = view.name;
  const titles = { records: 'Records', peers: 'Peers', import: 'Import', map: 'Account map', new: 'New record', record: 'Record' };
  document.title = (titles[view.name] || 'kith') + (titles[view.name] ? ' · kith' : '');
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.dataset.nav === view.name || (a.dataset.nav === 'records' && (view.name === 'record' || view.name === 'map')));
  app.appendChild(view.el);
  if (view.mounted) view.mounted();
  window.scrollTo(0, 0);
}

function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

/* ---------- view: records ---------- */

const listState = { q: '', kind: '', tag: '', org: '', owner: '', shared: '', stale: '', deleted: false, offset: 0, limit: 50 };

function viewRecords(params) {
  for (const k of ['q', 'kind', 'tag', 'org', 'owner', 'shared', 'stale']) if (params.has(k)) { listState[k] = params.get(k); listState.offset = 0; }
  if (params.has('deleted')) listState.deleted = params.get('deleted') === '1';
  let ctrl = null;
  let lastJson = '';
  const fmtTook = (us) => (us >= 1000 ? (us / 1000).toFixed(1) + ' ms' : us + ' µs');

  const search = h('input', { type: 'search', class: 'search', placeholder: 'Search names, organisations, notes, e-mail…',
    value: listState.q, 'data-test': 'search', 'aria-label': 'Search', autocomplete: 'off', spellcheck: false });
  const took = h('span', { class: 'took', 'data-test': 'took' });
  const count = h('span', { class: 'count', 'data-test': 'count' });
  const kind = h('select', { 'data-test': 'filter-kind', 'aria-label': 'Kind' },
    h('option', { value: '', text: 'People and organisations' }), h('option', { value: 'person', text: 'People' }), h('option', { value: 'org', text: 'Organisations' }));
  kind.value = listState.kind;
  const tag = h('input', { type: 'text', placeholder: 'Tag', value: listState.tag, 'data-test': 'filter-tag', 'aria-label': 'Tag', size: 10 });
  const org = h('input', { type: 'text', placeholder: 'Organisation', value: listState.org, 'data-test': 'filter-org', 'aria-label': 'Organisation', size: 14 });
  const owner = h('select', { 'data-test': 'filter-owner', 'aria-label': 'Owner' }, h('option', { value: '', text: 'Any owner' }), h('option', { value: 'me', text: 'Mine' }));
  const shared = h('select', { 'data-test': 'filter-shared', 'aria-label': 'Shared with' }, h('option', { value: '', text: 'Shared with anyone' }));
  const stale = h('input', { type: 'number', min: 0, step: 1, placeholder: 'days', value: listState.stale, 'data-test': 'filter-stale', 'aria-label': 'Last interaction older than N days', class: 'num' });
  const deleted = h('input', { type: 'checkbox', checked: listState.deleted, 'data-test': 'filter-deleted' });
  const clearBtn = h('button', { type: 'button', class: 'btn btn-link btn-sm', text: 'Clear filters', 'data-test': 'filter-clear' });
  const tbody = h('tbody');
  const prev = h('button', { type: 'button', class: 'btn btn-sm', text: '‹ Previous', 'data-test': 'prev' });
  const next = h('button', { type: 'button', class: 'btn btn-sm', text: 'Next ›', 'data-test': 'next' });
  const pageInfo = h('span', { class: 'muted' });
  const emptyMsg = h('div', { class: 'empty-state', hidden: true });

  peersCached().then((p) => {
    for (const peer of p.peers) {
      owner.appendChild(h('option', { value: peer.name, text: 'Owned by ' + peer.name }));
      shared.appendChild(h('option', { value: peer.name, text: 'Shared with ' + peer.name }));
    }
    for (const g of p.groups) shared.appendChild(h('option', { value: '@' + g, text: 'Shared with @' + g }));
    owner.value = listState.owner; shared.value = listState.shared;
  }).catch(() => {});

  function read() {
    Object.assign(listState, { q: search.value.trim(), kind: kind.value, tag: tag.value.trim(), org: org.value.trim(),
      owner: owner.value, shared: shared.value, stale: stale.value.trim(), deleted: deleted.checked });
  }
  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const mine = ctrl;
    const p = { q: listState.q, kind: listState.kind, tag: listState.tag, org: listState.org, owner: listState.owner,
      shared: listState.shared, stale: listState.stale, deleted: listState.deleted ? 1 : '', offset: listState.offset, limit: listState.limit };
    let data;
    try {
      data = await api('GET', '/api/records' + qs(p), null, { signal: ctrl.signal });
    } catch (e) {
      return;
    }
    if (mine !== ctrl) return;
    const json = JSON.stringify([data.total, data.offset, data.items]);
    if (json === lastJson) { took.textContent = fmtTook(data.took_us); return; } // same rows: leave them
    lastJson = json;
    renderRows(data);
  }
  function renderRows(data) {
    clear(tbody);
    count.textContent = data.total === 1 ? '1 record' : data.total.toLocaleString() + ' records';
    took.textContent = fmtTook(data.took_us);
    took.title = 'The server\'s time for this query';
    for (const it of data.items) tbody.appendChild(row(it));
    const from = data.total ? data.offset + 1 : 0;
    const to = data.offset + data.items.length;
    pageInfo.textContent = data.total ? from + '–' + to + ' of ' + data.total.toLocaleString() : '';
    prev.disabled = data.offset <= 0;
    next.disabled = to >= data.total;
    emptyMsg.hidden = data.total > 0;
    clear(emptyMsg);
    if (!data.total) {
      const filtered = listState.q || listState.kind || listState.tag || listState.org || listState.owner || listState.shared || listState.stale || listState.deleted;
      emptyMsg.appendChild(h('p', { text: filtered ? 'No record matches.' : 'No records yet.' }));
      if (!filtered) emptyMsg.appendChild(h('p', null, h('a', { href: '#/new/person', text: 'Add a person' }), ', ',
        h('a', { href: '#/new/org', text: 'an organisation' }), ', or ', h('a', { href: '#/import', text: 'import contacts' }), '.'));
    }
  }
  function row(it) {
    const href = '#/r/' + encodeURIComponent(it.id);
    const stale = it.kind === 'person' && daysSince(it.last_interaction) > 90;
    const tr = h('tr', { class: 'row' + (it.has_private ? ' has-private' : ''), 'data-test': 'row', 'data-id': it.id, tabindex: 0,
      on: {
        click: (e) => { if (!e.target.closest('a')) location.hash = href; },
        keydown: (e) => { if (e.key === 'Enter') location.hash = href; },
      } },
    h('td', { class: 'c-name' },
      h('span', { class: 'kind-icon kind-' + it.kind, title: it.kind === 'org' ? 'Organisation' : 'Person' }, icon(it.kind === 'org' ? 'org' : 'person')),
      h('a', { href, class: 'name', text: it.name || '(no name)' }),
      it.has_private ? h('span', { class: 'lock-badge', 'data-test': 'row-private', title: 'Has private values (only you see them)' }, icon('lock')) : null),
    h('td', { class: 'c-org' }, it.org ? h('span', { text: it.org }) : null,
      it.kind === 'org' ? h('a', { class: 'maplink', href: '#/map/' + encodeURIComponent(it.name || ''), 'data-test': 'row-map', title: 'Account map' }, icon('map'), ' Account map') : null,
      it.title ? h('div', { class: 'sub', text: it.title }) : null),
    h('td', { class: 'c-tags' }, (it.tags || []).map((t) => h('span', { class: 'tag', text: t }))),
    h('td', { class: 'c-owner' }, it.mine ? h('span', { class: 'muted', text: 'me' }) : h('span', { class: 'owner', text: it.owner_name || '?' })),
    h('td', { class: 'c-shared' }, (it.shared_with || []).map((s) => h('span', { class: 'badge' + (s.startsWith('@') ? ' badge-group' : ''), text: s }))),
    h('td', { class: 'c-last' + (stale ? ' stale' : ''), title: it.last_interaction ? 'Last interaction' : '' },
      it.kind === 'person' ? (it.last_interaction ? fmtDate(it.last_interaction) : h('span', { class: 'muted', text: 'never' })) : ''));
    return tr;
  }
  const reload = () => { read(); listState.offset = 0; load(); };
  search.addEventListener('input', debounce(reload, 120));
  for (const el of [tag, org, stale]) el.addEventListener('input', debounce(reload, 250));
  for (const el of [kind, owner, shared, deleted]) el.addEventListener('change', reload);
  clearBtn.addEventListener('click', () => {
    search.value = ''; kind.value = ''; tag.value = ''; org.value = ''; owner.value = ''; shared.value = ''; stale.value = ''; deleted.checked = false;
    reload();
  });
  prev.addEventListener('click', () => { listState.offset = Math.max(0, listState.offset - listState.limit); load(); });
  next.addEventListener('click', () => { listState.offset += listState.limit; load(); });

  const el = h('section', { class: 'records' },
    h('div', { class: 'page-head' },
      h('h1', { text: 'Records' }),
      h('div', { class: 'searchbar' }, search, h('span', { class: 'meta' }, count, took))),
    h('div', { class: 'filters', role: 'group', 'aria-label': 'Filters' },
      kind, tag, org, owner, shared,
      h('label', { class: 'inline' }, 'Not met for ', stale, ' days'),
      h('label', { class: 'inline' }, deleted, ' Deleted'),
      clearBtn),
    h('div', { class: 'card table-card' },
      h('table', { class: 'list' },
        h('thead', null, h('tr', null, h('th', { text: 'Name' }), h('th', { text: 'Organisation · title' }), h('th', { text: 'Tags' }),
          h('th', { text: 'Owner' }), h('th', { text: 'Shared with' }), h('th', { text: 'Last met' }))),
        tbody),
      emptyMsg,
      h('div', { class: 'pager' }, pageInfo, h('span', { class: 'spacer' }), prev, next)));
  return {
    name: 'records', el,
    mounted() { search.focus(); load(); },
    refresh() { load(); },
    leave() { if (ctrl) ctrl.abort(); },
  };
}

let peersPromise = null;
function peersCached(force) {
  if (!peersPromise || force) peersPromise = api('GET', '/api/peers', null, { quiet: true }).catch((e) => { peersPromise = null; throw e; });
  return peersPromise;
}

/* ---------- names of referenced records ---------- */

const nameCache = new Map();
function recordName(id) {
  if (!nameCache.has(id))
    nameCache.set(id, api('GET', '/api/records/' + encodeURIComponent(id), null, { quiet: true }).then((r) => r.name || shortId(id)).catch(() => shortId(id)));
  return nameCache.get(id);
}
function recordLink(id) {
  const a = h('a', { href: '#/r/' + encodeURIComponent(id), class: 'reflink', text: shortId(id) });
  recordName(id).then((n) => { a.textContent = n; });
  return a;
}

/* ---------- view: one record ---------- */

function viewRecord(id, params) {
  let rec = null;
  let lastJson = '';
  let tab = params.get('tab') === 'history' ? 'history' : 'fields';
  const editing = new Map(); // field → row element being edited
  const rows = new Map();
  const root = h('section', { class: 'record', 'data-test': 'record', 'data-id': id });
  const head = h('div', { class: 'record-head' });
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const main = h('div', { class: 'record-main' });
  const side = h('aside', { class: 'record-side' });
  const fieldsPane = h('div', { class: 'fields-pane' });
  const historyPane = h('div', { class: 'history-pane', 'data-test': 'history' });
  main.append(tabs, fieldsPane, historyPane);
  root.append(head, h('div', { class: 'record-body' }, main, side));

  async function load(why) {
    let r;
    try {
      r = await api('GET', '/api/records/' + encodeURIComponent(id), null, { quiet: why === 'change' });
    } catch (e) {
      if (!rec) { clear(head); head.appendChild(h('h1', { text: 'Record not found' })); }
      return;
    }
    const json = JSON.stringify(r);
    if (why === 'change' && json === lastJson) { // nothing new: keep the page as it is
      if (tab === 'history') loadHistory(); // (an op that lost changes the history alone)
      return;
    }
    lastJson = json;
    rec = r;
    nameCache.set(id, Promise.resolve(r.name || shortId(id)));
    document.title = (r.name || 'Record') + ' · kith';
    render(why !== 'change');
    if (tab === 'history') loadHistory();
  }
  const isPrivate = (f) => (rec.private_fields || []).includes(f);
  const valueOf = (f) => (isPrivate(f) && rec.private && f in rec.private ? rec.private[f] : rec[f]);

  function render(force) {
    // A live refresh leaves the sharing panel alone while the user is in it.
    if (force || !side.contains(document.activeElement)) renderSide();
    renderHead();
    renderTabs();
    renderFields();
  }
  function renderHead() {
    clear(head);
    const orgName = rec.kind === 'org' ? rec.name : rec.org;
    add(head, [
      h('div', { class: 'crumbs' }, h('a', { href: '#/', text: 'Records' }), ' / ', rec.kind === 'org' ? 'Organisation' : 'Person'),
      h('div', { class: 'title-row' },
        h('span', { class: 'avatar kind-' + rec.kind }, icon(rec.kind === 'org' ? 'org' : 'person')),
        h('div', { class: 'title-text' },
          h('h1', { 'data-test': 'record-name', text: rec.name || '(no name)' }),
          h('div', { class: 'subtitle' },
            [rec.title, rec.kind === 'person' ? rec.org : null].filter(Boolean).join(' · '),
            rec.deleted ? h('span', { class: 'badge badge-danger', 'data-test': 'deleted-badge', text: 'deleted' }) : null,
            !rec.can_edit ? h('span', { class: 'badge', title: 'Shared with you read-only', text: 'read-only' }) : null)),
        h('div', { class: 'title-actions' },
          orgName ? h('a', { class: 'btn', href: '#/map/' + encodeURIComponent(orgName), 'data-test': 'map-link', title: 'Account map of ' + orgName },
            icon('map'), ' Account map') : null,
          rec.kind === 'org' ? h('a', { class: 'btn', href: '#/?org=' + encodeURIComponent(rec.name || '') + '&kind=person', text: 'People' }) : null,
          rec.kind === 'org' ? h('a', { class: 'btn', href: '#/new/person?org=' + encodeURIComponent(rec.name || ''), text: '+ Person here' }) : null)),
      (rec.private_fields || []).length ? h('p', { class: 'legend' }, privateMarker(null),
        ' values are yours alone: they are not sent to the colleagues this record is shared with until you share them.') : null]);
  }
  function renderTabs() {
    clear(tabs);
    for (const [k, label] of [['fields', 'Details'], ['history', 'History']]) {
      tabs.appendChild(h('button', { type: 'button', role: 'tab', class: 'tab' + (tab === k ? ' active' : ''), 'aria-selected': String(tab === k),
        'data-test': 'tab-' + k, text: label,
        on: { click: () => { tab = k; renderTabs(); fieldsPane.hidden = tab !== 'fields'; historyPane.hidden = tab !== 'history'; if (tab === 'history') loadHistory(); } } }));
    }
    fieldsPane.hidden = tab !== 'fields';
    historyPane.hidden = tab !== 'history';
  }
  function fieldList() {
    const names = FIELDS.map((f) => f[0]);
    const extra = Object.keys(rec).filter((k) => !META.has(k) && !FIELD[k]).sort();
    for (const k of Object.keys(rec.private || {})) if (!FIELD[k] && !extra.includes(k)) extra.push(k);
    return names.concat(extra);
  }
  function renderFields() {
    // Rows being edited are kept as they are (the user's input is not clobbered).
    const keepFocus = document.activeElement;
    const sections = new Map();
    const frag = document.createDocumentFragment();
    for (const [g, label] of GROUPS) {
      const body = h('div', { class: 'field-group-body' });
      sections.set(g, body);
      frag.appendChild(h('div', { class: 'card field-group', 'data-group': g }, h('h2', { class: 'group-title', text: label }), body));
    }
    for (const f of fieldList()) {
      if (f === 'merged_into' && valueOf(f) == null) continue;
      if (f === 'vcard_extra' && valueOf(f) == null) continue;
      if (rec.kind === 'org' && PERSON_ONLY.has(f) && valueOf(f) == null) continue;
      const info = fieldInfo(f);
      let r = editing.get(f);
      if (!r) r = fieldRow(f);
      rows.set(f, r);
      sections.get(info.group).appendChild(r);
    }
    for (const [g] of GROUPS) {
      const body = sections.get(g);
      if (!body.firstChild) body.parentNode.remove();
    }
    clear(fieldsPane).appendChild(frag);
    if (keepFocus && keepFocus !== document.activeElement && document.contains(keepFocus)) keepFocus.focus();
  }

  function fieldRow(f) {
    const info = fieldInfo(f);
    const v = valueOf(f);
    const priv = isPrivate(f);
    const empty = v === null || v === undefined || (Array.isArray(v) && v.length === 0) || v === '';
    const valueEl = h('div', { class: 'value', 'data-test': 'value-' + f }, empty ? h('span', { class: 'muted', text: '—' }) : renderValue(f, info, v));
    const actions = h('div', { class: 'field-actions' });
    if (rec.can_edit || priv) {
      actions.appendChild(h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-test': 'edit-' + f, title: 'Edit ' + info.label,
        on: { click: () => startEdit(f) } }, icon('edit'), empty ? ' Add' : ' Edit'));
    }
    if (!empty && !priv && rec.can_edit && f !== 'name') {
      actions.appendChild(h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-test': 'make-private-' + f,
        title: 'Keep this value in your private layer only', on: { click: () => makePrivate(f) } }, icon('lock'), ' Make private'));
    }
    if (priv) {
      actions.appendChild(h('button', { type: 'button', class: 'btn btn-sm btn-share', 'data-test': 'publish-' + f,
        on: { click: () => publish(f) } }, icon('share'), ' Share this value…'));
    }
    return h('div', { class: 'field' + (priv ? ' is-private' : '') + (empty ? ' is-empty' : ''), 'data-test': 'field-' + f, 'data-field': f, 'data-private': priv ? '1' : null },
      h('div', { class: 'label' }, info.label, priv ? privateMarker(f) : null),
      valueEl, actions);
  }
  function renderValue(f, info, v) {
    if (info.type === 'record') return recordLink(v);
    if (info.type === 'list') {
      const items = Array.isArray(v) ? v : [v];
      if (f === 'tags') return h('div', { class: 'chips' }, items.map((t) => h('a', { class: 'tag', href: '#/?tag=' + encodeURIComponent(t), text: t })));
      return h('ul', { class: 'items' }, items.map((x) => h('li', null, isRelation(x)
        ? [h('span', { class: 'muted', text: x.type + ': ' }), recordLink(x.target)] : itemLink(f, String(x)))));
    }
    if (f === 'org' && rec.kind === 'person') return h('a', { href: '#/?org=' + encodeURIComponent(v), text: v });
    if (f === 'last_interaction') {
      const d = daysSince(v);
      return h('span', { class: d > 90 ? 'stale' : '' }, fmtDate(v), h('span', { class: 'muted', text: '  · ' + (d === 0 ? 'today' : d + ' days ago') }));
    }
    if (f === 'attitude' || f === 'influence') return h('span', { class: 'scale scale-' + f, 'data-v': v }, showValue(f, v));
    if (info.type === 'longtext') return h('div', { class: 'prose', text: showValue(f, v) });
    return h('span', { text: showValue(f, v) });
  }
  function itemLink(f, x) {
    if (f === 'emails' && /^[^\s@<>"]+@[^\s@<>"]+$/.test(x)) return h('a', { href: 'mailto:' + x, text: x });
    if (f === 'phones' && /^[+0-9 ()./-]+$/.test(x)) return h('a', { href: 'tel:' + x.replace(/[^+0-9]/g, ''), text: x });
    if (f === 'urls' && /^https?:\/\/[^\s]+$/i.test(x)) return h('a', { href: x, text: x, target: '_blank', rel: 'noopener noreferrer' });
    return h('span', { text: x });
  }

  function startEdit(f) {
    const info = fieldInfo(f);
    const priv = isPrivate(f);
    const cur = valueOf(f);
    const empty = cur === null || cur === undefined || (Array.isArray(cur) && !cur.length);
    let input, getChanges;
    const privCheck = empty && f !== 'name' ? h('input', { type: 'checkbox', 'data-test': 'private-check-' + f }) : null;
    const opFor = () => (priv || (privCheck && privCheck.checked) ? 'private' : 'set');
    const editor = h('div', { class: 'editor' });
    if (info.type === 'list') {
      const items = (Array.isArray(cur) ? cur : (cur ? [cur] : [])).map(itemText);
      const ul = h('ul', { class: 'edit-items' });
      const draw = () => {
        clear(ul);
        items.forEach((x, i) => ul.appendChild(h('li', null, relationLabel(x),
          h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-test': 'remove-' + f, 'data-value': x, 'aria-label': 'Remove ' + x, text: '×',
            on: { click: () => { items.splice(i, 1); draw(); } } }))));
      };
      draw();
      input = h('input', { type: f === 'emails' ? 'email' : f === 'urls' ? 'url' : 'text', 'data-test': 'input-' + f, placeholder: 'New ' + (SINGULAR[f] || info.label.toLowerCase()) });
      const addItem = () => {
        const x = input.value.trim();
        if (x && !items.includes(x)) items.push(x);
        input.value = ''; draw(); input.focus();
      };
      input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); if (input.value.trim()) addItem(); else save(); } });
      editor.append(ul, h('div', { class: 'add-row' }, input, h('button', { type: 'button', class: 'btn btn-sm', 'data-test': 'add-' + f, text: 'Add', on: { click: addItem } })));
      getChanges = () => {
        const pending = input.value.trim();
        if (pending && !items.includes(pending)) items.push(pending);
        const before = (Array.isArray(cur) ? cur : (cur ? [cur] : [])).map(itemText);
        if (opFor() === 'private') return items.length ? [{ op: 'private', field: f, values: items }] : (before.length ? [{ op: 'unset', field: f }] : []);
        const added = items.filter((x) => !before.includes(x));
        const removed = before.filter((x) => !items.includes(x));
        const ch = [];
        if (removed.length) ch.push({ op: 'remove', field: f, values: removed });
        if (added.length) ch.push({ op: 'add', field: f, values: added });
        return ch;
      };
    } else {
      if (info.type === 'number') {
        const range = f === 'influence' ? [0, 1, 2, 3, 4, 5] : [-2, -1, 0, 1, 2];
        input = h('select', { 'data-test': 'input-' + f }, h('option', { value: '', text: '— not set —' }),
          range.map((n) => h('option', { value: String(n), text: showValue(f, n) })));
      } else if (info.type === 'word') {
        input = h('select', { 'data-test': 'input-' + f }, h('option', { value: '', text: '— not set —' }), ROLES.map((r) => h('option', { value: r, text: r })));
      } else if (info.type === 'date') {
        input = h('input', { type: 'date', 'data-test': 'input-' + f });
      } else if (info.type === 'longtext') {
        input = h('textarea', { rows: 4, 'data-test': 'input-' + f });
      } else if (info.type === 'record') {
        input = recordPicker(f, cur);
      } else {
        input = h('input', { type: 'text', 'data-test': 'input-' + f });
      }
      if (info.type !== 'record') input.value = cur === null || cur === undefined ? '' : String(cur);
      editor.appendChild(input);
      if (input.tagName === 'INPUT') input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && info.type !== 'record') { e.preventDefault(); save(); } });
      getChanges = () => {
        // a record: the one picked, else the text typed (the API takes an exact name too)
        let v = info.type === 'record' ? input.dataset.value || input.querySelector('input').value.trim() : input.value.trim();
        if (v === '') return empty ? [] : [{ op: 'unset', field: f }];
        if (info.type === 'number') v = Number(v);
        if (!empty && v === cur && !(privCheck && privCheck.checked)) return [];
        return [{ op: opFor(), field: f, value: v }];
      };
    }
    const saveBtn = h('button', { type: 'button', class: 'btn btn-primary btn-sm', 'data-test': 'save-' + f, text: 'Save', on: { click: () => save() } });
    const cancel = h('button', { type: 'button', class: 'btn btn-sm', 'data-test': 'cancel-' + f, text: 'Cancel', on: { click: () => { editing.delete(f); render(true); } } });
    const foot = h('div', { class: 'editor-foot' }, saveBtn, cancel,
      privCheck ? h('label', { class: 'inline private-check' }, privCheck, ' ', icon('lock'), ' private (only for me)') : null,
      priv ? h('span', { class: 'hint' }, icon('lock'), ' stays private') : null);
    editor.appendChild(foot);
    editor.addEventListener('keydown', (e) => { if (e.key === 'Escape') { editing.delete(f); render(true); } });
    const row = h('div', { class: 'field editing' + (priv ? ' is-private' : ''), 'data-test': 'field-' + f, 'data-field': f, 'data-private': priv ? '1' : null },
      h('div', { class: 'label' }, info.label, priv ? privateMarker(f) : null), editor);
    editing.set(f, row);
    const old = rows.get(f);
    if (old && old.parentNode) old.replaceWith(row);
    rows.set(f, row);
    (input.querySelector ? (input.querySelector('input') || input) : input).focus();

    async function save() {
      const changes = getChanges();
      if (!changes.length) { editing.delete(f); render(true); return; }
      saveBtn.disabled = true;
      try {
        const res = await api('POST', '/api/records/' + encodeURIComponent(id) + '/edit', { changes });
        if (res && res.kept_private) banner((res.first_kept || f) + ' has a private value, so the change stayed private. Use “Share this value…” to share it.', 'info');
        editing.delete(f);
        await load();
      } catch (e) {
        saveBtn.disabled = false;
      }
    }
  }

  function relationLabel(x) {
    const r = /^([^:]+):([0-9a-f]{32})$/i.exec(x);
    if (!r) return h('span', { text: x });
    const el = h('span', { text: r[1] + ': ' + shortId(r[2]), title: x });
    recordName(r[2]).then((n) => { el.textContent = r[1] + ': ' + n; });
    return el;
  }

  function recordPicker(f, cur) {
    const wrap = h('div', { class: 'picker' });
    const inp = h('input', { type: 'text', 'data-test': 'input-' + f, placeholder: 'Search a record by name…', autocomplete: 'off' });
    const list = h('ul', { class: 'picker-list', hidden: true });
    wrap.dataset.value = cur || '';
    if (cur) recordName(cur).then((n) => { if (!inp.value) inp.value = n; });
    let ctrl = null;
    const search = debounce(async () => {
      if (ctrl) ctrl.abort();
      ctrl = new AbortController();
      const q = inp.value.trim();
      if (!q) { list.hidden = true; wrap.dataset.value = ''; return; }
      let data;
      try { data = await api('GET', '/api/records' + qs({ q, limit: 8 }), null, { signal: ctrl.signal, quiet: true }); } catch (e) { return; }
      clear(list);
      for (const it of data.items.filter((x) => x.id !== id)) {
        list.appendChild(h('li', { 'data-test': 'picker-result', 'data-id': it.id, tabindex: 0,
          on: { mousedown: (e) => { e.preventDefault(); pick(it); }, keydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); pick(it); inp.focus(); } } } },
        h('strong', { text: it.name || '' }), it.title || it.org ? h('span', { class: 'muted', text: ' ' + [it.title, it.org].filter(Boolean).join(' · ') }) : null));
      }
      if (!list.firstChild) list.appendChild(h('li', { class: 'muted', text: 'No record matches' }));
      list.hidden = false;
    }, 120);
    function pick(it) { inp.value = it.name || it.id; wrap.dataset.value = it.id; list.hidden = true; }
    inp.addEventListener('input', () => { wrap.dataset.value = ''; search(); });
    inp.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown' && list.firstChild && list.firstChild.tabIndex === 0) { e.preventDefault(); list.firstChild.focus(); }
      if (e.key === 'Enter') {
        e.preventDefault();
        const first = list.querySelector('[data-test=picker-result]');
        if (!list.hidden && first) first.dispatchEvent(new MouseEvent('mousedown', { bubbles: true }));
      }
    });
    inp.addEventListener('blur', () => setTimeout(() => { if (!wrap.contains(document.activeElement)) list.hidden = true; }, 150));
    list.addEventListener('keydown', (e) => {
      const li = e.target.closest('li');
      if (!li) return;
      if (e.key === 'ArrowDown' && li.nextElementSibling) { e.preventDefault(); li.nextElementSibling.focus(); }
      if (e.key === 'ArrowUp') { e.preventDefault(); (li.previousElementSibling || inp).focus(); }
      if (e.key === 'Escape') { e.stopPropagation(); list.hidden = true; inp.focus(); }
    });
    wrap.append(inp, list);
    return wrap;
  }

  async function makePrivate(f) {
    const v = valueOf(f);
    const info = fieldInfo(f);
    const aud = rec.audience || [];
    const ok = await dialog('Make “' + info.label + '” private?', [
      h('p', null, 'From now on this value, and every change you make to it, stays on this machine.'),
      h('p', { class: 'muted', text: 'It was part of the shared record until now, and a record keeps its history: '
        + (aud.length ? 'the ' + aud.length + (aud.length === 1 ? ' colleague' : ' colleagues') + ' who have this record keep the value as it was, and '
          : '') + 'anyone you share the record with later receives that history too.' }),
    ], [
      { label: 'Cancel', test: 'make-private-cancel', value: false, cls: 'btn-default' },
      { label: 'Make private', test: 'make-private-confirm', value: true, cls: 'btn-primary' },
    ]);
    if (!ok) return;
    const change = Array.isArray(v) ? { op: 'private', field: f, values: v.map(itemText) } : { op: 'private', field: f, value: v };
    // A private value alone leaves the shared one in place (colleagues keep getting it,
    // and private_fields does not name the field). So: take the shared value out, then
    // put it in the private layer. Two requests: the API refuses a field changed twice in
    // one, and privacy is sticky (an unset after the private op would hit the private value).
    const path = '/api/records/' + encodeURIComponent(id) + '/edit';
    try {
      await api('POST', path, { changes: [{ op: 'unset', field: f }] });
      try {
        await api('POST', path, { changes: [change] });
      } catch (e) { // put the shared value back rather than lose it
        await api('POST', path, { changes: [Array.isArray(v) ? { op: 'add', field: f, values: v.map(itemText) } : { op: 'set', field: f, value: v }] }, { quiet: true }).catch(() => {});
        throw e;
      }
      banner(fieldInfo(f).label + ' is now private: you see your value; colleagues do not get it.', 'info');
      await load();
    } catch (e) { /* banner shown */ }
  }

  async function publish(f) {
    const info = fieldInfo(f);
    const aud = rec.audience || [];
    const v = valueOf(f);
    const who = aud.length
      ? h('ul', { class: 'audience-list' }, aud.map((a) => h('li', null, h('strong', { text: a.name }), h('span', { class: 'muted', text: ' · ' + a.role }))))
      : h('p', { class: 'muted', text: 'Nobody yet: this record is not shared. The value becomes part of the shared record, and goes to whoever you share the record with later.' });
    const ok = await dialog('Share “' + info.label + '” with colleagues?', [
      h('p', null, 'This value is private now: only you see it. Sharing it sends it to everyone who has this record:'),
      who,
      h('div', { class: 'publish-value' }, h('div', { class: 'label', text: info.label }), h('div', { class: 'prose', text: showValue(f, v) })),
      h('p', { class: 'muted', text: 'Once sent, colleagues keep their copy: this cannot be taken back.' }),
    ], [
      { label: 'Keep private', test: 'publish-cancel', value: false, cls: 'btn-default' },
      { label: aud.length ? 'Share with ' + aud.length + (aud.length === 1 ? ' person' : ' people') : 'Share this value', test: 'publish-confirm', value: true, cls: 'btn-share' },
    ]);
    if (!ok) return;
    try {
      await api('POST', '/api/records/' + encodeURIComponent(id) + '/edit', { changes: [{ op: 'publish', field: f }] });
      banner(info.label + ' is shared now.', 'info');
      await load();
    } catch (e) { /* banner */ }
  }

  function renderSide() {
    clear(side);
    // Sharing
    const shares = rec.shares || [];
    const card = h('div', { class: 'card side-card', 'data-test': 'sharing' }, h('h2', { class: 'group-title' }, icon('share'), ' Sharing'));
    if (!shares.length) card.appendChild(h('p', { class: 'muted', text: rec.mine ? 'Not shared: only you have this record.' : 'No shares you can see.' }));
    else {
      card.appendChild(h('ul', { class: 'shares' }, shares.map((s) => h('li', { 'data-test': 'share', 'data-target': s.target },
        h('div', null, h('span', { class: 'badge' + (s.target.startsWith('@') ? ' badge-group' : ''), text: s.target }),
          h('span', { class: 'muted', text: ' ' + s.role }),
          s.target.startsWith('@') && s.members ? h('div', { class: 'sub', text: s.members.length ? s.members.map((m) => m.name).join(', ') : 'no members yet' }) : null),
        rec.mine ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-test': 'unshare', 'data-target': s.target, text: 'Unshare',
          on: { click: () => unshare(s.target) } }) : null))));
    }
    const aud = rec.audience || [];
    if (aud.length) card.appendChild(h('p', { class: 'sub' }, 'Seen by: ', aud.map((a) => a.name + (a.role === 'reader' ? ' (reader)' : '')).join(', ')));
    if (rec.mine) {
      const target = h('select', { 'data-test': 'share-target', 'aria-label': 'Share with' }, h('option', { value: '', text: 'Choose a colleague or group…' }));
      const role = h('select', { 'data-test': 'share-role', 'aria-label': 'Role' }, h('option', { value: 'editor', text: 'can edit' }), h('option', { value: 'reader', text: 'can read' }));
      const go = h('button', { type: 'button', class: 'btn btn-primary btn-sm', 'data-test': 'share-go', text: 'Share' });
      peersCached().then((p) => {
        if (p.groups.length) target.appendChild(h('optgroup', { label: 'Groups' }, p.groups.map((g) => h('option', { value: '@' + g, text: '@' + g }))));
        if (p.peers.length) target.appendChild(h('optgroup', { label: 'Peers' }, p.peers.map((x) => h('option', { value: x.name, text: x.name }))));
      }).catch(() => {});
      go.addEventListener('click', async () => {
        if (!target.value) { target.focus(); return; }
        go.disabled = true;
        try {
          await api('POST', '/api/records/' + encodeURIComponent(id) + '/share', { target: target.value, role: role.value });
          banner('Shared with ' + target.value + '. Private values stay with you.', 'info');
          await load();
        } catch (e) { go.disabled = false; }
      });
      card.appendChild(h('div', { class: 'share-form' }, target, role, go));
      card.appendChild(h('p', { class: 'hint' }, icon('lock'), ' Private values are never sent by sharing.'));
    } else {
      card.appendChild(h('p', { class: 'hint', text: 'Owned by ' + (rec.owner_name || 'a colleague') + '; only the owner shares it.' }));
    }
    side.appendChild(card);

    const meta = h('div', { class: 'card side-card meta-card' }, h('h2', { class: 'group-title', text: 'Record' }),
      h('dl', null,
        h('dt', { text: 'Owner' }), h('dd', { text: rec.mine ? 'me' : (rec.owner_name || '') }),
        h('dt', { text: 'Created' }), h('dd', { text: fmtDate(rec.created) }),
        h('dt', { text: 'Updated' }), h('dd', { text: fmtDate(rec.updated) }),
        rec.no_longer_shared_since ? [h('dt', { text: 'No longer shared' }), h('dd', { text: fmtDate(rec.no_longer_shared_since) })] : null,
        h('dt', { text: 'ID' }), h('dd', { class: 'mono small', text: rec.id })));
    if (rec.mine) {
      meta.appendChild(rec.deleted
        ? h('button', { type: 'button', class: 'btn btn-sm', 'data-test': 'restore', text: 'Restore', on: { click: restore } })
        : h('button', { type: 'button', class: 'btn btn-danger-ghost btn-sm', 'data-test': 'delete', text: 'Delete…', on: { click: del } }));
    }
    side.appendChild(meta);
  }
  async function unshare(target) {
    try {
      await api('POST', '/api/records/' + encodeURIComponent(id) + '/unshare', { target });
      await load();
    } catch (e) { /* banner */ }
  }
  async function del() {
    const ok = await dialog('Delete ' + (rec.name || 'this record') + '?', [
      h('p', null, 'It disappears from the list, for you and the colleagues it is shared with. You can restore it later (Records, filter “Deleted”).')],
    [{ label: 'Cancel', test: 'cancel', value: false, cls: 'btn-default' }, { label: 'Delete', test: 'confirm', value: true, cls: 'btn-danger' }]);
    if (!ok) return;
    try { await api('POST', '/api/records/' + encodeURIComponent(id) + '/delete', {}); await load(); } catch (e) { /* banner */ }
  }
  async function restore() {
    try { await api('POST', '/api/records/' + encodeURIComponent(id) + '/restore', {}); await load(); } catch (e) { /* banner */ }
  }

  async function loadHistory() {
    let ops;
    try { ops = await api('GET', '/api/records/' + encodeURIComponent(id) + '/history', null, { quiet: true }); } catch (e) {
      clear(historyPane).appendChild(h('p', { class: 'muted', text: 'History is not available: ' + e.message })); return;
    }
    clear(historyPane);
    const list = h('ol', { class: 'timeline' });
    for (const op of ops.slice().reverse()) {
      list.appendChild(h('li', { class: 'op' + (op.private ? ' is-private' : '') + (op.effective === false ? ' not-effective' : ''), 'data-test': 'history-op' },
        h('div', { class: 'op-head' },
          h('strong', { text: op.author_name || shortId(op.author) }),
          h('span', { class: 'muted', text: ' · ' + fmtDate(op.time) }),
          op.created ? h('span', { class: 'badge', text: 'created ' + op.created }) : null,
          op.private ? privateMarker(null) : null,
          op.effective === false ? h('span', { class: 'badge badge-warn', title: 'A later or stronger change won: this one has no effect', text: 'overridden' }) : null),
        h('table', { class: 'changes' }, (op.changes || []).map((c) => h('tr', null,
          h('td', { class: 'c-field', text: fieldInfo(c.field).label }),
          h('td', { class: 'c-before' }, c.before === null || c.before === undefined ? h('span', { class: 'muted', text: '—' }) : h('del', null, histValue(c.field, c.before))),
          h('td', { class: 'arrow', text: '→' }),
          h('td', { class: 'c-after' }, c.after === null || c.after === undefined ? h('span', { class: 'muted', text: '(removed)' }) : histValue(c.field, c.after)))))));
    }
    historyPane.appendChild(ops.length ? list : h('p', { class: 'muted', text: 'No history.' }));
  }

  function histValue(f, v) {
    if (fieldInfo(f).type === 'record' && typeof v === 'string' && /^[0-9a-f]{32}$/i.test(v)) return recordLink(v);
    if (Array.isArray(v) && v.some(isRelation))
      return h('span', null, v.map((x, i) => [i ? ', ' : '', isRelation(x) ? [x.type + ': ', recordLink(x.target)] : String(x)]));
    return h('span', { text: showValue(f, v) });
  }

  load();
  return {
    name: 'record', el: root,
    refresh() { load('change'); },
  };
}

/* ---------- view: new record ---------- */

function viewNew(kind, params) {
  const spec = kind === 'person'
    ? ['name', 'given', 'family', 'org', 'title', 'emails', 'phones', 'tags', 'buying_role', 'influence', 'attitude', 'last_interaction', 'note']
    : ['name', 'urls', 'phones', 'tags', 'note'];
  const inputs = {};
  const privs = {};
  const form = h('form', { class: 'card new-form', 'data-test': 'new-form', autocomplete: 'off' });
  const orgList = h('datalist', { id: 'org-list' });
  api('GET', '/api/records' + qs({ kind: 'org', limit: 500 }), null, { quiet: true })
    .then((d) => d.items.forEach((o) => orgList.appendChild(h('option', { value: o.name || '' })))).catch(() => {});
  for (const f of spec) {
    const info = fieldInfo(f);
    let inp;
    if (info.type === 'number') {
      const range = f === 'influence' ? [0, 1, 2, 3, 4, 5] : [-2, -1, 0, 1, 2];
      inp = h('select', null, h('option', { value: '', text: '— not set —' }), range.map((n) => h('option', { value: String(n), text: showValue(f, n) })));
    } else if (info.type === 'word') inp = h('select', null, h('option', { value: '', text: '— not set —' }), ROLES.map((r) => h('option', { value: r, text: r })));
    else if (info.type === 'date') inp = h('input', { type: 'date' });
    else if (info.type === 'longtext') inp = h('textarea', { rows: 3 });
    else inp = h('input', { type: 'text', inputMode: f === 'emails' ? 'email' : f === 'phones' ? 'tel' : null, list: f === 'org' ? 'org-list' : null,
      placeholder: info.type === 'list' ? 'several: separate with commas' : '' });
    inp.setAttribute('data-test', 'new-' + f);
    inp.id = 'new-' + f;
    if (f === 'name') inp.required = true;
    if (params.get(f)) inp.value = params.get(f);
    inputs[f] = inp;
    const pc = f === 'name' ? null : h('input', { type: 'checkbox', 'data-test': 'new-private-' + f, title: 'Private: only for me' });
    privs[f] = pc;
    form.appendChild(h('div', { class: 'form-row' }, h('label', { for: 'new-' + f, text: info.label + (f === 'name' ? ' *' : '') }), inp,
      pc ? h('label', { class: 'inline private-check', title: 'Keep this value private (only you see it)' }, pc, icon('lock'), ' private') : h('span')));
  }
  const create = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'new-create', text: kind === 'person' ? 'Create person' : 'Create organisation' });
  form.append(orgList, h('div', { class: 'form-foot' }, create, h('a', { class: 'btn', href: '#/', text: 'Cancel' })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { kind, name: inputs.name.value.trim(), set: {}, private: {} };
    if (!body.name) { inputs.name.focus(); return; }
    for (const f of spec) {
      if (f === 'name') continue;
      let v = inputs[f].value.trim();
      if (!v) continue;
      const info = fieldInfo(f);
      if (info.type === 'list') v = v.split(',').map((x) => x.trim()).filter(Boolean);
      else if (info.type === 'number') v = Number(v);
      (privs[f] && privs[f].checked ? body.private : body.set)[f] = v;
    }
    create.disabled = true;
    try {
      const res = await api('POST', '/api/records', body);
      location.hash = '#/r/' + encodeURIComponent(res.id);
    } catch (err) { create.disabled = false; }
  });
  const el = h('section', { class: 'new-record' },
    h('div', { class: 'crumbs' }, h('a', { href: '#/', text: 'Records' }), ' / new'),
    h('h1', { text: kind === 'person' ? 'New person' : 'New organisation' }),
    h('p', { class: 'muted', text: 'A new record is yours alone until you share it. More fields can be added on the record page.' }),
    form);
  return { name: 'new', el, mounted() { inputs.name.focus(); } };
}

/* ---------- view: account map ---------- */

const ROLE_STYLE = {
  'decision-maker': { shape: 'star', color: '#b42318', label: 'Decision-maker' },
  'economic-buyer': { shape: 'square', color: '#b54708', label: 'Economic buyer' },
  'technical-buyer': { shape: 'diamond', color: '#6941c6', label: 'Technical buyer' },
  champion: { shape: 'circle', color: '#067647', label: 'Champion' },
  influencer: { shape: 'triangle', color: '#1570ef', label: 'Influencer' },
  user: { shape: 'circle-open', color: '#475467', label: 'User' },
  gatekeeper: { shape: 'hexagon', color: '#0e7090', label: 'Gatekeeper' },
  blocker: { shape: 'cross', color: '#912018', label: 'Blocker' },
  coach: { shape: 'triangle-down', color: '#15803d', label: 'Coach' },
  '': { shape: 'dot', color: '#98a2b3', label: 'Role unknown' },
};
function roleShape(role, x, y, r) {
  const st = ROLE_STYLE[role] || ROLE_STYLE[''];
  const c = st.color;
  const common = { fill: c, stroke: '#ffffff', 'stroke-width': 1.5 };
  const poly = (pts) => svg('polygon', Object.assign({ points: pts.map((p) => (x + p[0] * r).toFixed(1) + ',' + (y + p[1] * r).toFixed(1)).join(' ') }, common));
  switch (st.shape) {
    case 'square': return svg('rect', Object.assign({ x: x - r * 0.85, y: y - r * 0.85, width: r * 1.7, height: r * 1.7, rx: 2 }, common));
    case 'diamond': return poly([[0, -1.15], [1.15, 0], [0, 1.15], [-1.15, 0]]);
    case 'triangle': return poly([[0, -1.15], [1.05, 0.8], [-1.05, 0.8]]);
    case 'triangle-down': return poly([[0, 1.15], [1.05, -0.8], [-1.05, -0.8]]);
    case 'hexagon': return poly([[1, 0], [0.5, 0.87], [-0.5, 0.87], [-1, 0], [-0.5, -0.87], [0.5, -0.87]]);
    case 'star': {
      const pts = [];
      for (let i = 0; i < 10; i++) { const a = -Math.PI / 2 + i * Math.PI / 5; const rr = i % 2 ? 0.55 : 1.25; pts.push([Math.cos(a) * rr, Math.sin(a) * rr]); }
      return poly(pts);
    }
    case 'cross': return poly([[-0.35, -1], [0.35, -1], [0.35, -0.35], [1, -0.35], [1, 0.35], [0.35, 0.35], [0.35, 1], [-0.35, 1], [-0.35, 0.35], [-1, 0.35], [-1, -0.35], [-0.35, -0.35]].map(([a, b]) => [(a + b) * 0.78, (b - a) * 0.78]));
    case 'circle-open': return svg('circle', { cx: x, cy: y, r: r * 0.85, fill: '#ffffff', stroke: c, 'stroke-width': 3 });
    case 'dot': return svg('circle', { cx: x, cy: y, r: r * 0.7, fill: c, stroke: '#ffffff', 'stroke-width': 1.5 });
    default: return svg('circle', Object.assign({ cx: x, cy: y, r }, common));
  }
}

function viewMap(org) {
  const wrap = h('div', { class: 'map-wrap' });
  const side = h('aside', { class: 'map-side' });
  const status = h('span', { class: 'muted' });
  let people = [];
  let svgEl = null;
  let lastJson = '';
  const btn = (label, test, fn) => h('button', { type: 'button', class: 'btn btn-sm', 'data-test': test, text: label, on: { click: fn } });
  const el = h('section', { class: 'map-view' },
    h('div', { class: 'crumbs no-print' }, h('a', { href: '#/', text: 'Records' }), ' / account map'),
    h('div', { class: 'page-head no-print' },
      h('h1', null, 'Account map: ', h('span', { text: org })),
      h('div', { class: 'toolbar' }, status,
        h('a', { class: 'btn btn-sm', href: '#/new/person?org=' + encodeURIComponent(org), text: '+ Person' }),
        btn('Print', 'map-print', () => window.print()),
        btn('Export SVG', 'map-svg', exportSvg),
        btn('Export PNG', 'map-png', exportPng))),
    h('div', { class: 'map-layout' }, h('div', { class: 'card map-card' }, wrap), side));

  async function load() {
    let data;
    try { data = await api('GET', '/api/records' + qs({ org, kind: 'person', limit: 500 }), null, { quiet: !!svgEl }); } catch (e) { return; }
    const json = JSON.stringify(data.items);
    if (json === lastJson) return;
    lastJson = json;
    people = data.items;
    status.textContent = people.length + (people.length === 1 ? ' person' : ' people');
    draw();
  }

  function draw() {
    const W = 1000, H = 660;
    const L = 70, R = 30, T = 70, B = 70;
    const pw = W - L - R, ph = H - T - B;
    const colW = pw / 5, rowH = ph / 6;
    const xOf = (a) => L + (a + 2) * colW + colW / 2;
    const yOf = (i) => T + (5 - i) * rowH + rowH / 2;
    const font = '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
    const s = svg('svg', { xmlns: SVGNS, viewBox: `0 0 ${W} ${H}`, width: W, height: H, 'data-test': 'map', class: 'map-svg',
      'font-family': font, role: 'img', 'aria-label': 'Account map of ' + org });
    s.appendChild(svg('title', { text: 'Account map: ' + org }));
    const defs = svg('defs', null,
      svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#667085' })));
    s.appendChild(defs);
    s.appendChild(svg('rect', { x: 0, y: 0, width: W, height: H, fill: '#ffffff' }));
    // quadrants
    const midX = L + pw / 2, midY = T + ph / 2;
    const q = [[L, T, '#fdecec', 'Powerful, against us'], [midX, T, '#e7f6ec', 'Powerful, for us'],
      [L, midY, '#fbf4f4', 'Less influential, against'], [midX, midY, '#f2faf5', 'Less influential, for us']];
    // quadrant names outside the plot, where no person can hide them: the upper two above it,
    // the lower two below it, each at its own side
    q.forEach(([x, y, fill, label], i) => {
      s.appendChild(svg('rect', { x, y, width: pw / 2, height: ph / 2, fill }));
      const right = i % 2 === 1;
      const color = i < 2 ? (right ? '#067647' : '#b42318') : (right ? '#3f8f5f' : '#c0584f');
      s.appendChild(svg('text', { x: right ? L + pw : L, y: i < 2 ? T - 10 : T + ph + 44, 'text-anchor': right ? 'end' : 'start',
        'font-size': 12, fill: color, 'font-weight': 600, text: (right ? '' : '◀ ') + label + (right ? ' ▶' : '') }));
    });
    // grid
    for (let i = 0; i <= 5; i++) {
      const x = L + i * colW;
      s.appendChild(svg('line', { x1: x, y1: T, x2: x, y2: T + ph, stroke: '#e4e7ec', 'stroke-width': 1 }));
    }
    for (let i = 0; i <= 6; i++) {
      const y = T + i * rowH;
      s.appendChild(svg('line', { x1: L, y1: y, x2: L + pw, y2: y, stroke: '#e4e7ec', 'stroke-width': 1 }));
    }
    s.appendChild(svg('line', { x1: midX, y1: T, x2: midX, y2: T + ph, stroke: '#98a2b3', 'stroke-width': 1.2, 'stroke-dasharray': '4 4' }));
    s.appendChild(svg('line', { x1: L, y1: midY, x2: L + pw, y2: midY, stroke: '#98a2b3', 'stroke-width': 1.2, 'stroke-dasharray': '4 4' }));
    s.appendChild(svg('rect', { x: L, y: T, width: pw, height: ph, fill: 'none', stroke: '#d0d5dd' }));
    // axes labels
    for (let a = -2; a <= 2; a++)
      s.appendChild(svg('text', { x: xOf(a), y: T + ph + 20, 'text-anchor': 'middle', 'font-size': 12, fill: '#475467', text: signed(a) + ' ' + ATTITUDE[a] }));
    s.appendChild(svg('text', { x: L + pw / 2, y: T + ph + 44, 'text-anchor': 'middle', 'font-size': 13, 'font-weight': 600, fill: '#344054', text: 'Attitude towards us  →' }));
    for (let i = 0; i <= 5; i++)
      s.appendChild(svg('text', { x: L - 12, y: yOf(i) + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#475467', text: String(i) }));
    s.appendChild(svg('text', { x: 20, y: T + ph / 2, 'text-anchor': 'middle', 'font-size': 13, 'font-weight': 600, fill: '#344054',
      transform: `rotate(-90 20 ${T + ph / 2})`, text: 'Influence  →' }));
    s.appendChild(svg('text', { x: L, y: 28, 'font-size': 18, 'font-weight': 700, fill: '#101828', text: org }));
    s.appendChild(svg('text', { x: W - R, y: 28, 'text-anchor': 'end', 'font-size': 11, fill: '#667085', text: 'kith account map · ' + new Date().toISOString().slice(0, 10) }));

    // place people: several in one cell are spread in a small grid
    const placed = people.filter((p) => p.influence !== null && p.influence !== undefined && p.attitude !== null && p.attitude !== undefined);
    const unplaced = people.filter((p) => !placed.includes(p));
    const cells = new Map();
    for (const p of placed) {
      const k = p.influence + ':' + p.attitude;
      if (!cells.has(k)) cells.set(k, []);
      cells.get(k).push(p);
    }
    // Several people in one cell: stacked in one column (up to 3), else in two columns.
    const pos = new Map();
    const room = new Map();
    for (const [k, list] of cells) {
      const [inf, att] = k.split(':').map(Number);
      const cx = xOf(att), cy = yOf(inf);
      const n = list.length;
      const cols = n <= 3 ? 1 : 2;
      const rowsN = Math.ceil(n / cols);
      const step = Math.min(40, (rowH - 6) / rowsN);
      list.forEach((p, i) => {
        const c = Math.floor(i / rowsN), r = i % rowsN;
        const x0 = cx - colW / 2 + 14 + c * (colW / cols);
        pos.set(p.id, [x0, cy + (r - (rowsN - 1) / 2) * step]);
        room.set(p.id, [colW / cols - 30, step >= 36]);
      });
    }
    // reporting lines first (under the nodes)
    const lines = svg('g', { class: 'reports' });
    for (const p of placed) {
      if (!p.reports_to || !pos.has(p.reports_to)) continue;
      const [x1, y1] = pos.get(p.id), [x2, y2] = pos.get(p.reports_to);
      const d = Math.hypot(x2 - x1, y2 - y1) || 1;
      const ux = (x2 - x1) / d, uy = (y2 - y1) / d;
      lines.appendChild(svg('line', { x1: x1 + ux * 10, y1: y1 + uy * 10, x2: x2 - ux * 12, y2: y2 - uy * 12,
        stroke: '#667085', 'stroke-width': 1.3, 'marker-end': 'url(#arrow)', opacity: 0.75 }));
    }
    s.appendChild(lines);
    const nodes = svg('g', { class: 'nodes' });
    for (const p of placed) {
      const [x, y] = pos.get(p.id);
      const stale = daysSince(p.last_interaction) > 90;
      const met = p.last_interaction ? 'met ' + fmtDate(p.last_interaction) : 'never met';
      const a = svg('a', { href: '#/r/' + encodeURIComponent(p.id), 'data-test': 'map-node', 'data-id': p.id, class: 'map-node' + (stale ? ' stale' : ''),
        opacity: stale ? 0.5 : 1 });
      a.appendChild(svg('title', { text: [p.name, p.title, p.buying_role, met].filter(Boolean).join(' · ') }));
      a.appendChild(roleShape(p.buying_role || '', x, y, 8));
      const fit = (t, px, size) => { const max = Math.max(4, Math.floor(px / (size * 0.56))); return t.length > max ? t.slice(0, max - 1) + '…' : t; };
      const [w, three] = room.get(p.id);
      // a light halo under the labels, so the reporting lines that pass under them do not cross the text
      const halo = { stroke: '#ffffff', 'stroke-width': 3, 'stroke-opacity': 0.85, 'stroke-linejoin': 'round', 'paint-order': 'stroke' };
      const metShort = p.last_interaction ? 'met ' + p.last_interaction : 'never met';
      if (three) {
        // name, title, date last met: each on its own line
        a.appendChild(svg('text', { ...halo, x: x + 12, y: y - 4, 'font-size': 12, 'font-weight': 600, fill: '#101828', text: fit(p.name || '', w, 12) }));
        if (p.title) a.appendChild(svg('text', { ...halo, x: x + 12, y: y + 8, 'font-size': 10, fill: '#475467', text: fit(p.title, w, 10) }));
        a.appendChild(svg('text', { ...halo, x: x + 12, y: y + (p.title ? 20 : 8), 'font-size': 10, fill: p.last_interaction ? '#667085' : '#b42318', text: metShort }));
      } else {
        const maxSub = Math.floor(w / 5.6);
        const tmax = maxSub - metShort.length - 3;
        const t = p.title && tmax >= 4 ? (p.title.length > tmax ? p.title.slice(0, tmax - 1) + '…' : p.title) + ' · ' : '';
        a.appendChild(svg('text', { ...halo, x: x + 12, y: y - 1, 'font-size': 12, 'font-weight': 600, fill: '#101828', text: fit(p.name || '', w, 12) }));
        a.appendChild(svg('text', { ...halo, x: x + 12, y: y + 11, 'font-size': 10, fill: '#475467', text: fit(t + metShort, w, 10) }));
      }
      nodes.appendChild(a);
    }
    s.appendChild(nodes);
    svgEl = s;
    clear(wrap).appendChild(s);

    // side: legend and not yet placed
    clear(side);
    const legend = h('div', { class: 'card legend-card', 'data-test': 'map-legend' }, h('h2', { class: 'group-title', text: 'Buying role' }));
    for (const [role, st] of Object.entries(ROLE_STYLE)) {
      const sw = svg('svg', { width: 18, height: 18, viewBox: '0 0 18 18' }, roleShape(role, 9, 9, 6));
      legend.appendChild(h('div', { class: 'legend-row' }, sw, h('span', { text: st.label })));
    }
    legend.appendChild(h('div', { class: 'legend-row' }, svg('svg', { width: 18, height: 18, viewBox: '0 0 18 18' },
      svg('line', { x1: 1, y1: 9, x2: 14, y2: 9, stroke: '#667085', 'stroke-width': 1.5, 'marker-end': 'url(#arrow)' }),
      svg('path', { d: 'M12,5 L17,9 L12,13 z', fill: '#667085' })), h('span', { text: 'reports to' })));
    legend.appendChild(h('div', { class: 'legend-row' }, h('span', { class: 'faded-sample', text: 'Aa' }), h('span', { text: 'not met for 90+ days' })));
    side.appendChild(legend);
    const up = h('div', { class: 'card unplaced-card' }, h('h2', { class: 'group-title', text: 'Not yet placed' }));
    if (!unplaced.length) up.appendChild(h('p', { class: 'muted small', text: people.length ? 'Everyone has influence and attitude.' : 'No people at this organisation yet.' }));
    else {
      up.appendChild(h('p', { class: 'muted small', text: 'Give them influence and attitude to place them on the map.' }));
      up.appendChild(h('ul', { class: 'unplaced' }, unplaced.map((p) => h('li', null,
        h('a', { href: '#/r/' + encodeURIComponent(p.id), 'data-test': 'unplaced', 'data-id': p.id, text: p.name || '(no name)' }),
        p.title ? h('span', { class: 'muted', text: ' · ' + p.title }) : null))));
    }
    side.appendChild(up);
  }

  function serialize() {
    const copy = svgEl.cloneNode(true);
    copy.removeAttribute('class');
    copy.removeAttribute('data-test');
    for (const n of copy.querySelectorAll('[data-test],[data-id],[class]')) { n.removeAttribute('data-test'); n.removeAttribute('data-id'); n.removeAttribute('class'); }
    for (const n of copy.querySelectorAll('a')) n.removeAttribute('href');
    const text = new XMLSerializer().serializeToString(copy);
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text;
  }
  function fileBase() {
    return 'account-map-' + (org.normalize('NFKD').replace(/[^\w-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'org');
  }
  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: name, class: 'hidden-link' });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  function exportSvg() {
    if (!svgEl) return;
    download(new Blob([serialize()], { type: 'image/svg+xml' }), fileBase() + '.svg');
  }
  function exportPng() {
    if (!svgEl) return;
    const url = URL.createObjectURL(new Blob([serialize()], { type: 'image/svg+xml' }));
    const img = new Image();
    img.addEventListener('load', () => {
      const scale = 2;
      const canvas = document.createElement('canvas');
      canvas.width = 1000 * scale; canvas.height = 660 * scale;
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      canvas.toBlob((b) => { if (b) download(b, fileBase() + '.png'); else banner('The PNG could not be made.'); }, 'image/png');
    });
    img.addEventListener('error', () => { URL.revokeObjectURL(url); banner('The PNG could not be made: the browser refused the map image.'); });
    img.src = url;
  }

  load();
  return { name: 'map', el, refresh() { load(); }, exportSvg, exportPng, serialize };
}

/* ---------- view: peers ---------- */

function viewPeers() {
  const nodeBox = h('div', { class: 'card node-card' });
  const pairBox = h('div', { class: 'card pair-card', 'data-test': 'pairing' });
  const peersBox = h('div', { class: 'card table-card' });
  const groupsBox = h('div', { class: 'card', 'data-test': 'groups' });
  const el = h('section', { class: 'peers-view' },
    h('div', { class: 'page-head' }, h('h1', { text: 'Peers' })),
    h('div', { class: 'peers-layout' },
      h('div', { class: 'peers-main' }, peersBox, groupsBox),
      h('div', { class: 'peers-side' }, nodeBox,
        pairBox)));

  // Pairing (proto/WEB.md "Pairing"): host shows a code, or join with a colleague's code;
  // when the code matched, the user checks the fingerprint and accepts or refuses.
  let pairSeen = '';
  async function renderPair() {
    let st;
    try { st = await api('GET', '/api/pair', null, { quiet: true }); } catch (e) { return; }
    const key = JSON.stringify(st);
    if (key === pairSeen && pairBox.firstChild) return;
    if (pairBox.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') return;
    pairSeen = key;
    clear(pairBox);
    pairBox.dataset.state = st.state;
    pairBox.append(h('h2', { class: 'group-title', text: 'Pair with a colleague' }));
    const post = async (path, body) => {
      try { await api('POST', path, body || {}); } catch (e) { /* banner shown */ }
      renderPair();
    };
    const running = ['waiting', 'searching', 'confirm', 'adding'].includes(st.state);
    if (st.state === 'waiting' && st.code) {
      pairBox.append(h('p', null, 'Read this code to your colleague, in the same room and on the same network:'),
        h('div', { class: 'pair-code mono', 'data-test': 'pair-code', text: st.code }),
        h('p', { class: 'muted small' }, 'They enter it on their kith page, or run ', h('code', { text: 'kith pair ' + st.code }), '.'));
    } else if (st.state === 'confirm') {
      pairBox.append(h('p', null, 'The code matched. This is ', h('strong', { 'data-test': 'pair-peer', text: st.peer }), '. Check the fingerprint with them before you add them:'),
        h('div', { class: 'pair-code mono', 'data-test': 'pair-fingerprint', text: st.fingerprint }),
        h('div', { class: 'btn-row' },
          h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'pair-accept', on: { click: () => post('/api/pair/answer', { accept: true }) } }, 'Fingerprints match: add'),
          h('button', { type: 'button', class: 'btn btn-default', 'data-test': 'pair-reject', on: { click: () => post('/api/pair/answer', { accept: false }) } }, 'They do not match')));
    }
    if (st.message) pairBox.append(h('p', { class: 'muted small', 'data-test': 'pair-state', text: st.message }));
    if (running && st.state !== 'adding') {
      pairBox.append(h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-test': 'pair-cancel', on: { click: () => post('/api/pair/cancel') } }, 'Cancel pairing'));
    }
    if (!running) {
      const input = h('input', { type: 'text', class: 'input mono', placeholder: '7-orbit-sugar-lantern', 'data-test': 'pair-code-input', autocomplete: 'off', spellcheck: 'false' });
      const join = h('button', { type: 'button', class: 'btn btn-default', 'data-test': 'pair-join' }, 'Join');
      const go = () => { const c = input.value.trim(); if (c) post('/api/pair', { code: c }); };
      join.addEventListener('click', go);
      input.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
      pairBox.append(
        h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'pair-start', on: { click: () => post('/api/pair', {}) } }, 'Show a pairing code'),
        h('p', { class: 'muted small', text: 'or enter the code a colleague shows you:' }),
        h('div', { class: 'pair-join' }, input, join),
        h('p', { class: 'muted small' }, 'Not on the same network? Exchange node IDs and run ', h('code', { text: 'kith peer add NAME NODE-ID' }), '.'));
    }
  }

  function renderNode() {
    clear(nodeBox);
    const idText = S.session.node_id || '';
    const idEl = h('code', { class: 'node-id mono', 'data-test': 'node-id', text: idText, title: 'Click to select' });
    idEl.addEventListener('click', () => { const r = document.createRange(); r.selectNodeContents(idEl); const s = getSelection(); s.removeAllRanges(); s.addRange(r); });
    const copyBtn = h('button', { type: 'button', class: 'btn btn-sm', 'data-test': 'copy-node-id' }, icon('copy'), ' Copy');
    copyBtn.addEventListener('click', async () => {
      try { await navigator.clipboard.writeText(idText); copyBtn.lastChild.textContent = ' Copied'; } catch (e) { idEl.click(); copyBtn.lastChild.textContent = ' Press Ctrl+C'; }
      setTimeout(() => { copyBtn.lastChild.textContent = ' Copy'; }, 2000);
    });
    nodeBox.append(h('h2', { class: 'group-title', text: 'This node' }),
      h('p', null, h('strong', { text: S.session.name || '' }), h('span', { class: 'muted', text: ' · kith ' + (S.session.version || '') })),
      h('div', { class: 'id-row' }, idEl, copyBtn),
      h('div', { class: 'qr-wrap' }, h('img', { src: '/api/qr.svg', alt: 'QR code of this node ID', width: 180, height: 180, 'data-test': 'qr', class: 'qr' })),
      h('p', { class: 'muted small', text: 'Give this ID to a colleague (or let them scan the code) so they can add you as a peer.' }));
  }
  async function load() {
    let peers, status;
    try {
      [peers, status] = await Promise.all([peersCached(true), api('GET', '/api/status', null, { quiet: true }).catch(() => null)]);
    } catch (e) {
      clear(peersBox).appendChild(h('p', { class: 'muted pad', text: 'Peers are not available: ' + e.message }));
      return;
    }
    const st = new Map(((status && status.peers) || []).map((p) => [p.name, p]));
    clear(peersBox);
    if (!peers.peers.length) {
      peersBox.appendChild(h('div', { class: 'empty-state' }, h('p', { text: 'No peers yet.' }), h('p', { class: 'muted', text: 'Pair with a colleague to share records.' })));
    } else {
      const tbody = h('tbody');
      for (const p of peers.peers) {
        const s = st.get(p.name) || {};
        const online = s.online !== undefined ? s.online : p.online;
        tbody.appendChild(h('tr', { 'data-test': 'peer', 'data-name': p.name, 'data-online': online ? '1' : '0' },
          h('td', null, h('span', { class: 'dot ' + (online ? 'on' : 'off'), 'data-test': 'peer-dot', title: online ? 'online' : 'offline' }),
            h('strong', { text: p.name }), h('div', { class: 'sub mono', title: p.node_id, text: (p.node_id || '').slice(0, 15) + '…' })),
          h('td', null, (p.groups || []).map((g) => h('span', { class: 'badge badge-group', text: '@' + g }))),
          h('td', { class: 'mono small' }, s.address || p.address || h('span', { class: 'muted', text: '—' })),
          h('td', { title: s.last_sync || p.last_sync || '' }, ago(s.last_sync || p.last_sync)),
          h('td', { class: 'num' }, s.ops_sent !== undefined ? s.ops_sent.toLocaleString() : '—'),
          h('td', { class: 'num' }, s.ops_received !== undefined ? s.ops_received.toLocaleString() : '—')));
      }
      peersBox.appendChild(h('table', { class: 'list peers' },
        h('thead', null, h('tr', null, h('th', { text: 'Peer' }), h('th', { text: 'Groups' }), h('th', { text: 'Address' }),
          h('th', { text: 'Last sync' }), h('th', { class: 'num', text: 'Ops sent' }), h('th', { class: 'num', text: 'Ops received' }))), tbody));
    }
    clear(groupsBox).appendChild(h('h2', { class: 'group-title', text: 'Groups' }));
    if (!peers.groups.length) groupsBox.appendChild(h('p', { class: 'muted', text: 'No groups. kith peer edit NAME --add-group G puts a peer in one.' }));
    for (const g of peers.groups) {
      const members = peers.peers.filter((p) => (p.groups || []).includes(g)).map((p) => p.name);
      groupsBox.appendChild(h('div', { class: 'group-row' }, h('a', { class: 'badge badge-group', href: '#/?shared=' + encodeURIComponent('@' + g), text: '@' + g }),
        h('span', { text: members.length ? members.join(', ') : 'no members' })));
    }
  }
  renderNode();
  load();
  renderPair();
  return { name: 'peers', el, refresh(why) { if (why === 'pair') renderPair(); else load(); } };
}

/* ---------- view: import ---------- */

function viewImport() {
  let file = null;
  const input = h('input', { type: 'file', accept: '.vcf,.vcard,.csv,text/vcard,text/csv', 'data-test': 'import-file', id: 'import-file', class: 'file-input' });
  const format = h('select', { 'data-test': 'import-format', id: 'import-format' },
    h('option', { value: 'vcard', text: 'vCard (.vcf)' }), h('option', { value: 'linkedin', text: 'LinkedIn Connections.csv' }),
    h('option', { value: 'csv', text: 'CSV (Google, Outlook)' }));
  const fileName = h('span', { class: 'file-name muted', text: 'No file chosen' });
  const go = h('button', { type: 'button', class: 'btn btn-primary', 'data-test': 'import-go', text: 'Import', disabled: true });
  const progress = h('progress', { max: 100, value: 0, 'data-test': 'import-progress', hidden: true });
  const progressText = h('span', { class: 'muted small' });
  const result = h('div', { class: 'import-result', 'data-test': 'import-result', hidden: true });
  const drop = h('label', { class: 'drop', for: 'import-file', 'data-test': 'import-drop' },
    icon('upload', 'big'), h('strong', { text: 'Drop a .vcf or .csv file here' }), h('span', { class: 'muted', text: 'or click to choose one' }), input);

  function choose(f) {
    file = f;
    if (!f) return;
    fileName.textContent = f.name + ' · ' + (f.size >= 1048576 ? (f.size / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(f.size / 1024)) + ' KB');
    const n = f.name.toLowerCase();
    if (n.endsWith('.vcf') || n.endsWith('.vcard')) format.value = 'vcard';
    else if (n.includes('connections')) format.value = 'linkedin';
    else if (n.endsWith('.csv')) format.value = 'csv';
    go.disabled = false;
    result.hidden = true;
  }
  input.addEventListener('change', () => choose(input.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]); });

  go.addEventListener('click', () => {
    if (!file) return;
    if (file.size > 16 * 1048576) { banner('The file is larger than 16 MB; import it with kith import in a terminal.'); return; }
    go.disabled = true;
    progress.hidden = false; progress.value = 0; progressText.textContent = 'Uploading…';
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/import?format=' + encodeURIComponent(format.value));
    xhr.withCredentials = true;
    xhr.setRequestHeader('X-Kith-CSRF', S.csrf);
    xhr.setRequestHeader('Content-Type', format.value === 'vcard' ? 'text/vcard' : 'text/csv');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) { progress.value = Math.round((e.loaded / e.total) * 100); progressText.textContent = progress.value + '%'; }
    });
    xhr.upload.addEventListener('load', () => { progressText.textContent = 'Uploaded; importing…'; progress.removeAttribute('value'); });
    xhr.addEventListener('load', () => {
      go.disabled = false;
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status === 401) { showLogin(); return; }
      if (xhr.status < 200 || xhr.status >= 300 || !data) {
        progress.hidden = true; progressText.textContent = '';
        banner((data && data.error) || 'The import failed (' + xhr.status + ').');
        return;
      }
      progress.value = 100; progressText.textContent = 'Done';
      showResult(data);
    });
    xhr.addEventListener('error', () => { go.disabled = false; progress.hidden = true; progressText.textContent = ''; banner('The upload failed: is kith serve still running?'); });
    xhr.send(file);
  });
  function showResult(d) {
    clear(result);
    const cell = (k, label) => h('div', { class: 'stat stat-' + k }, h('div', { class: 'stat-n', 'data-test': 'import-' + k, text: String(d[k] || 0) }), h('div', { class: 'stat-l', text: label }));
    result.append(h('div', { class: 'stats' }, cell('added', 'added'), cell('updated', 'updated'), cell('unchanged', 'unchanged'), cell('skipped', 'skipped')));
    // skips: [{line, property (null: a whole card), why}], at most 100; skips_omitted the rest
    const errs = d.skips || [];
    const more = d.skips_omitted || 0;
    if (errs.length) {
      const n = errs.length + more;
      result.append(h('h3', { text: n === 1 ? '1 thing left out' : n + ' things left out' }),
        h('ul', { class: 'errors mono small', 'data-test': 'import-errors' },
          errs.map((e) => h('li', { text: 'line ' + e.line + (e.property ? ' (' + e.property + ')' : ' (a whole card)') + ': ' + e.why }))));
      if (more) result.append(h('p', { class: 'small', text: 'and ' + more + ' more' }));
    }
    if (d.ambiguous) result.append(h('p', { class: 'small', text: d.ambiguous + ' matched several records and were added as new ones.' }));
    if (d.read_only) result.append(h('p', { class: 'small', text: d.read_only + ' would have changed records shared with you read-only and were left alone.' }));
    result.append(h('p', null, h('a', { href: '#/', text: 'See the records' })));
    result.hidden = false;
  }
  const el = h('section', { class: 'import-view' },
    h('div', { class: 'page-head' }, h('h1', { text: 'Import contacts' })),
    h('div', { class: 'card import-card' },
      drop,
      h('div', { class: 'import-row' }, h('label', { for: 'import-format', text: 'Format' }), format, fileName),
      h('div', { class: 'import-row' }, go, progress, progressText),
      h('p', { class: 'muted small', text: 'Importing twice never duplicates: cards are matched to the records you hold by UID, e-mail or LinkedIn URL. A bad value is skipped and reported; the rest is imported. Imported records are private to you until you share them.' }),
      result));
  return { name: 'import', el };
}

document.addEventListener('DOMContentLoaded', start);
