// The two HTML pages: the public info page of a primary (what a submitter or
// monitor needs to use the log) and the operator's status page on the
// internal listener (refreshing itself from status.json). Pure functions of
// their inputs; every value is escaped; no external assets, and the pages are
// complete without JavaScript.
import type { PrimaryStatusJson } from './primary-status.js';
import type { SecondaryStatusJson } from './secondary-status.js';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Content-Security-Policy of the pages: nothing from elsewhere, only the inline style (and, on the status page, script and status.json). */
export const INFO_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
export const STATUS_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:62rem;padding:0 1rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #d0d7de}
.sub{color:#57606a;margin:0 0 1rem}code,.mono{font-family:ui-monospace,monospace;font-size:13px;word-break:break-all}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .6rem .25rem 0;vertical-align:top;border-bottom:1px solid #eaeef2}
th{font-weight:600;color:#57606a;white-space:nowrap}pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;border-radius:4px}
.ok{color:#1a7f37}.bad{color:#cf222e}.empty{color:#57606a}`.trim();

function page(title: string, body: string, script = ''): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
${body}
${script}</body></html>
`;
}

/** How a value is shown on both pages (and by the status page's script: see FORMAT_JS). */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

function row(label: string, valueHtml: string): string {
  return `<tr><th scope="row">${escapeHtml(label)}</th><td>${valueHtml}</td></tr>`;
}

/** A value in a span the status page's script updates (data-k names its field in status.json). */
function field(key: string, value: unknown, cls = ''): string {
  return `<span data-k="${escapeHtml(key)}"${cls === '' ? '' : ` class="${cls}"`}>${escapeHtml(formatValue(value))}</span>`;
}

export interface InfoPageModel {
  version: string;
  publicKeyHex: string;
  publicKeyOpenSsh: string;
  keyHashHex: string;
  /** The log's URL as this request reached it, e.g. https://log.example.org/prefix */
  logUrl: string;
  head: { size: number; rootHashHex: string; newestCosignatureTime: number | undefined };
  /** Names of the witnesses whose cosignatures are on the published head. */
  cosignedBy: readonly string[];
  nowSeconds: number;
}

export function ageText(nowSeconds: number, time: number | undefined): string {
  if (time === undefined) return 'not cosigned';
  const s = Math.max(0, nowSeconds - time);
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

/** The public page at <url-prefix>/ of a primary. */
export function infoPage(m: InfoPageModel): string {
  const policyLine = `log ${m.publicKeyHex} ${m.logUrl}`;
  const cosigned =
    m.cosignedBy.length === 0
      ? '<span class="empty">none</span>'
      : `<ul data-k="cosignedBy">${m.cosignedBy.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`;
  return page(
    'Sigsum log',
    `<h1>This is a Sigsum log server</h1>
<p class="sub">sigsum-log ${escapeHtml(m.version)} · <a href="https://www.sigsum.org/">sigsum.org</a></p>
<h2>Log</h2>
<table>
${row('Public key (hex)', `<code data-k="publicKey">${escapeHtml(m.publicKeyHex)}</code>`)}
${row('Public key (OpenSSH)', `<code data-k="publicKeyOpenSsh">${escapeHtml(m.publicKeyOpenSsh)}</code>`)}
${row('Key hash', `<code data-k="keyHash">${escapeHtml(m.keyHashHex)}</code>`)}
${row('URL', `<code data-k="logUrl">${escapeHtml(m.logUrl)}</code>`)}
</table>
<p>Policy line for submitters and verifiers (a Sigsum policy file, see sigsum-submit and sigsum-verify):</p>
<pre data-k="policyLine">${escapeHtml(policyLine)}</pre>
<h2>Published tree head</h2>
<table>
${row('Size', field('publishedSize', m.head.size))}
${row('Root hash', `<code data-k="publishedRootHash">${escapeHtml(m.head.rootHashHex)}</code>`)}
${row('Newest cosignature', field('headAge', ageText(m.nowSeconds, m.head.newestCosignatureTime)))}
${row('Cosigned by', cosigned)}
</table>
<p class="sub">API: <code>get-tree-head</code>, <code>get-inclusion-proof/&lt;size&gt;/&lt;leaf hash&gt;</code>, <code>get-consistency-proof/&lt;old&gt;/&lt;new&gt;</code>, <code>get-leaves/&lt;start&gt;/&lt;end&gt;</code>, <code>add-leaf</code> (Sigsum v1).</p>`,
  );
}

/** Columns of the status page's tables: the status.json field of each, and its heading. */
export const SECONDARY_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['url', 'URL'],
  ['replicatedSize', 'replicated size'],
  ['lagLeaves', 'lag (leaves)'],
  ['lagSeconds', 'lag (s)'],
  ['reachable', 'reachable'],
  ['lastErrorClass', 'last error class'],
  ['lastError', 'last error'],
];
export const WITNESS_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['name', 'name'],
  ['url', 'URL'],
  ['lastCosignedSize', 'last cosigned size'],
  ['lastAnswer', 'last answer'],
  ['lastAnswerTime', 'answered at (Unix s)'],
  ['lastError', 'last error'],
  ['cosignedPublishedHead', 'cosigned the published head'],
];

function listTable(key: string, columns: ReadonlyArray<readonly [string, string]>, items: ReadonlyArray<Record<string, unknown>>): string {
  const head = columns.map(([, h]) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  const body = items.map((it) => `<tr>${columns.map(([k]) => `<td>${escapeHtml(formatValue(it[k]))}</td>`).join('')}</tr>`).join('\n');
  return `<table data-list="${escapeHtml(key)}" data-cols="${escapeHtml(columns.map(([k]) => k).join(' '))}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/**
 * Polls status.json every 2 s and updates the page in place: [data-k] spans
 * by field name, [data-list] tables by rows. Only textContent is set, so a
 * value from status.json (say, an error message quoting a peer) is never HTML.
 * The format is formatValue's.
 */
const REFRESH_SCRIPT = `<script>
(function () {
  function fmt(v) { return v === null || v === undefined ? '\\u2013' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v); }
  function get(o, path) { return path.split('.').reduce(function (x, k) { return x == null ? undefined : x[k]; }, o); }
  function apply(s) {
    document.querySelectorAll('[data-k]').forEach(function (el) { var v = get(s, el.getAttribute('data-k')); if (v !== undefined) el.textContent = fmt(v); });
    document.querySelectorAll('[data-list]').forEach(function (t) {
      var items = s[t.getAttribute('data-list')] || [], cols = t.getAttribute('data-cols').split(' '), tb = t.tBodies[0];
      while (tb.rows.length) tb.deleteRow(0);
      items.forEach(function (it) { var tr = tb.insertRow(); cols.forEach(function (c) { tr.insertCell().textContent = fmt(it[c]); }); });
    });
    var h = document.getElementById('health');
    if (h) h.className = s.health && s.health.ok ? 'ok' : 'bad';
    var u = document.getElementById('updated');
    if (u) u.textContent = 'updated ' + new Date().toLocaleTimeString();
  }
  function poll() {
    fetch('status.json', { cache: 'no-store' }).then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(apply, function (e) { var u = document.getElementById('updated'); if (u) u.textContent = 'refresh failed: ' + e.message; })
      .then(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
</script>
`;

/** The status page at <url-prefix>/ on the internal listener, from a status.json snapshot. */
export function statusPage(s: PrimaryStatusJson | SecondaryStatusJson): string {
  const common = `<h1>sigsum-log ${escapeHtml(s.role)}</h1>
<p class="sub">version ${field('version', s.version)} · lifecycle state ${field('lifecycleState', s.lifecycleState)} · up ${field('uptimeSeconds', s.uptimeSeconds)} s · <span id="updated">not refreshed yet</span></p>
<p>Health: <span id="health" class="${s.health.ok ? 'ok' : 'bad'}">${field('health.reason', s.health.reason)}</span></p>`;
  let body: string;
  if (s.role === 'primary') {
    body = `${common}
<h2>Tree</h2>
<table>
${row('Local size', field('localSize', s.localSize))}
${row('Published size', field('publishedSize', s.publishedSize))}
${row('Published root hash', `<code>${field('publishedRootHash', s.publishedRootHash)}</code>`)}
${row('Head age (s, newest cosignature)', field('headAgeSeconds', s.headAgeSeconds))}
${row('Pending pool', field('pendingLeaves', s.pendingLeaves))}
${row('Verify queue', field('verifyQueueDepth', s.verifyQueueDepth))}
${row('add-leaf requests/s (last minute)', field('addLeafRequestsPerSecond', s.addLeafRequestsPerSecond))}
${row('Leaves sequenced/s (last minute)', field('sequencedLeavesPerSecond', s.sequencedLeavesPerSecond))}
${row('Last rotation', `${field('lastRotation.outcome', s.lastRotation?.outcome)} at ${field('lastRotation.time', s.lastRotation?.time)} (Unix s)`)}
</table>
<h2>Secondaries</h2>
${listTable('secondaries', SECONDARY_COLUMNS, s.secondaries as unknown as Array<Record<string, unknown>>)}
<h2>Witnesses</h2>
${listTable('witnesses', WITNESS_COLUMNS, s.witnesses as unknown as Array<Record<string, unknown>>)}`;
  } else {
    body = `${common}
<h2>Replication</h2>
<table>
${row('Upstream', `<code>${field('upstream', s.upstream)}</code>`)}
${row('Upstream size', field('upstreamSize', s.upstreamSize))}
${row('Replicated size', field('replicatedSize', s.replicatedSize))}
${row('Verified size', field('verifiedSize', s.verifiedSize))}
${row('Lag (leaves)', field('lagLeaves', s.lagLeaves))}
${row('Lag (s)', field('lagSeconds', s.lagSeconds))}
${row('Last caught up (Unix s)', field('lastSyncTime', s.lastSyncTime))}
${row('Last error class', field('lastErrorClass', s.lastErrorClass))}
${row('Last error', field('lastError', s.lastError))}
</table>`;
  }
  return page(`sigsum-log ${s.role} status`, body, REFRESH_SCRIPT);
}
