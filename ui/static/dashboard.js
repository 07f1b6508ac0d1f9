// sipscope web UI: the KPI dashboard (GET /api/v1/kpis). Tiles give the
// whole range, computed by the API over one bucket as long as the range so
// that ratios and the p95 are the store's and not an average of averages;
// hand-drawn SVG bar charts give each step. Every bar links to the calls
// (or registrations, or alerts) behind it. Loaded before views.js, whose
// helpers (vwShow, vwGet, vwHash...) it calls at run time.
'use strict';

const DASH_PRESETS = { '1h': 3600, '24h': 86400, '7d': 7 * 86400 };
// Steps the dashboard picks from, seconds: the smallest that keeps a
// chart under DASH_MAX_BARS bars.
const DASH_STEPS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400];
const DASH_MAX_BARS = 72;

// MOS bands as the KPI API counts them (G.107 Annex B), and the call list
// filters that select the same calls.
const DASH_MOS_BANDS = [
  { key: 'mos_good', label: 'good ≥ 4.03', cls: 'good', q: { min_mos: '4.03' } },
  { key: 'mos_fair', label: 'fair 3.60–4.03', cls: 'fair', q: { min_mos: '3.6', max_mos: '4.029' } },
  { key: 'mos_poor', label: 'poor < 3.60', cls: 'poor', q: { min_mos: '1', max_mos: '3.599' } },
];

const dashPct = (v) => (Number.isFinite(v) ? (100 * v).toFixed(1) + ' %' : vwDash);

// The charts, in order. fmt renders a value; pct charts run 0–100 %.
// calls says what a bar links to: the calls of that bucket, the
// registrations, or the alerts list.
const DASH_CHARTS = [
  { key: 'attempts', title: 'Call attempts', fmt: String, link: 'calls' },
  { key: 'asr', title: 'ASR (answered / attempts)', fmt: dashPct, pct: true, link: 'calls', when: 'attempts' },
  { key: 'ner', title: 'NER (network effectiveness)', fmt: dashPct, pct: true, link: 'calls', when: 'attempts' },
  { key: 'acd_s', title: 'ACD (mean talk time)', fmt: (v) => (v > 0 ? seconds(v) : vwDash), unit: 'seconds', link: 'calls', when: 'answered' },
  { key: 'pdd_p95_ms', title: 'PDD p95 (INVITE to first 18x)', fmt: ms, unit: 'milliseconds', link: 'calls', when: 'pdd_p95_ms' },
  { key: 'mos', title: 'MOS', unit: 'calls with RTP', stacked: DASH_MOS_BANDS, link: 'calls' },
  { key: 'concurrent_avg', title: 'Concurrent answered calls (mean)', fmt: (v) => v.toFixed(2), link: 'calls' },
  { key: 'registration_success', title: 'Registration success', fmt: dashPct, pct: true, link: 'registrations', when: 'registrations' },
  { key: 'alerts_fired', title: 'Alerts fired', fmt: String, link: 'alerts' },
];

// dashRange reads the range of a dashboard URL: a preset ending now (to
// the next whole minute), or from/to; step as given or chosen.
function dashRange(params) {
  let from;
  let to;
  let preset = params.get('range') || '';
  if (params.get('from') && params.get('to')) {
    from = Date.parse(params.get('from'));
    to = Date.parse(params.get('to'));
    preset = 'custom';
  } else {
    if (!DASH_PRESETS[preset]) preset = '24h';
    to = (Math.floor(Date.now() / 60000) + 1) * 60000;
    from = to - DASH_PRESETS[preset] * 1000;
  }
  if (!Number.isFinite(from) || !Number.isFinite(to) || to - from < 60000) return { error: 'The range must be at least one minute long.' };
  const span = (to - from) / 1000;
  let step = dashParseStep(params.get('step'));
  if (!step || span / step > 2000) step = DASH_STEPS.find((s) => span / s <= DASH_MAX_BARS) || 86400;
  return { preset, from, to, step, count: Math.ceil(span / step) };
}

function dashParseStep(v) {
  const m = /^(\d+)([mhd])$/.exec(v || '');
  if (!m) return 0;
  const s = Number(m[1]) * { m: 60, h: 3600, d: 86400 }[m[2]];
  return s >= 60 ? s : 0;
}

function dashStepText(s) {
  if (s % 86400 === 0) return s / 86400 + ' d';
  if (s % 3600 === 0) return s / 3600 + ' h';
  return s / 60 + ' min';
}

// The API's times: RFC 3339 UTC without fractions.
const dashISO = (t) => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');

function dashQuery(r, step, groupBy) {
  const q = new URLSearchParams({ from: dashISO(r.from), to: dashISO(r.to), step: step + 's' });
  if (groupBy) q.set('group_by', groupBy);
  return '/kpis?' + q;
}

// dashGroupFilter is the call list filter that selects one group's calls
// (user agents have none there; their bars keep the time range only).
function dashGroupFilter(groupBy, group, forRegistrations) {
  if (!groupBy || group === null || group === undefined) return {};
  switch (groupBy) {
    case 'src_ip': return { ip: group };
    case 'dst_ip': return forRegistrations ? {} : { ip: group };
    case 'prefix': return forRegistrations ? {} : { to_user: group + '*' };
    case 'user_agent': return forRegistrations ? { user_agent: group } : {};
  }
  return {};
}

// dashLink is where a bucket's bar leads.
function dashLink(def, start, end, groupBy, group, extra) {
  if (def.link === 'alerts') return '#/alerts';
  const forReg = def.link === 'registrations';
  const q = new URLSearchParams({ from: dashISO(start), to: dashISO(end) });
  for (const [k, v] of Object.entries(dashGroupFilter(groupBy, group, forReg))) q.set(k, v);
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return forReg ? '#/registrations?' + q : listHash(q);
}

let dashState = null;

async function showDashboard(params) {
  const seq = vwShow('dashboard-view', 'dashboard');
  const r = dashRange(params);
  const groupBy = params.get('group_by') || '';
  const group = params.has('group') ? params.get('group') : null;
  dashState = { params };
  for (const b of document.querySelectorAll('.dash-presets button')) {
    b.setAttribute('aria-pressed', String(b.dataset.range === (r.preset || 'custom')));
  }
  $('dash-group-by').value = groupBy;
  $('dash-custom').hidden = r.preset !== 'custom' && !r.error;
  if (r.error) {
    $('dash-custom').hidden = false;
    showError(r.error);
    return;
  }
  $('dash-from').value = vwFromRFC3339(dashISO(r.from));
  $('dash-to').value = vwFromRFC3339(dashISO(r.to));
  $('dash-step').value = params.get('step') || '';
  const whole = Math.round((r.to - r.from) / 1000);
  $('dash-range').textContent = `${dateTime(dashISO(r.from))} – ${dateTime(dashISO(r.to))} UTC · ${dashStepText(r.step)} per bar` +
    (groupBy ? ` · ${$('dash-group-by').selectedOptions[0].textContent}: ${group === null ? 'all traffic' : group || '(none)'}` : '');
  const asks = [vwGet(dashQuery(r, r.step, '')), vwGet(dashQuery(r, whole, ''))];
  if (groupBy) asks.push(vwGet(dashQuery(r, r.step, groupBy)), vwGet(dashQuery(r, whole, groupBy)));
  let got;
  try {
    got = await Promise.all(asks);
  } catch (e) {
    if (seq === vwSeq) showError('Cannot load KPIs: ' + e.message);
    return;
  }
  if (seq !== vwSeq) return;
  const [series, total, gSeries, gTotal] = got;
  let buckets = series.buckets;
  let sum = total.buckets[0] || null;
  if (groupBy && group !== null) {
    buckets = gSeries.buckets.filter((b) => (b.group || '') === group);
    sum = gTotal.buckets.find((b) => (b.group || '') === group) || null;
  }
  dashTiles(sum, r);
  dashGroups(groupBy, group, gTotal ? gTotal.buckets : null, params, r);
  $('dash-charts').replaceChildren(...DASH_CHARTS.map((def) => dashChart(def, buckets, r, groupBy, group)));
  $('dash-empty').hidden = !!sum;
}

// dashTiles shows the whole range's figures; data-value holds the API's
// number unrounded.
function dashTiles(b, r) {
  const v = b || {};
  const tile = (key, label, text, sub) => el('div', { class: 'dash-tile', 'data-kpi': key, 'data-value': v[key] === undefined ? '' : v[key] },
    el('div', { class: 'dash-tile-label' }, label),
    el('div', { class: 'dash-tile-value' }, text),
    sub ? el('div', { class: 'dash-tile-sub' }, sub) : null);
  const mos = el('div', { class: 'dash-tile dash-mos', 'data-kpi': 'mos' },
    el('div', { class: 'dash-tile-label' }, 'MOS of calls with RTP'),
    el('div', { class: 'dash-mos-bands' }, ...DASH_MOS_BANDS.map((band) =>
      el('span', { class: 'dash-band ' + band.cls, 'data-kpi': band.key, 'data-value': v[band.key] === undefined ? '' : v[band.key], title: band.label },
        el('b', null, String(v[band.key] || 0)), ' ' + band.cls))));
  $('dash-tiles').replaceChildren(
    tile('attempts', 'Call attempts', String(v.attempts || 0), `${v.answered || 0} answered`),
    tile('asr', 'ASR', b && v.attempts ? dashPct(v.asr) : vwDash),
    tile('ner', 'NER', b && v.attempts ? dashPct(v.ner) : vwDash),
    tile('acd_s', 'ACD', v.acd_s > 0 ? seconds(v.acd_s) : vwDash),
    tile('pdd_p95_ms', 'PDD p95', ms(v.pdd_p95_ms), v.pdd_avg_ms > 0 ? 'mean ' + ms(v.pdd_avg_ms) : null),
    mos,
    tile('concurrent_avg', 'Concurrent calls', (v.concurrent_avg || 0).toFixed(2), 'mean over the range'),
    tile('registration_success', 'Registration success', v.registrations ? dashPct(v.registration_success) : vwDash,
      `${v.registrations_succeeded || 0} of ${v.registrations || 0}`),
    tile('alerts_fired', 'Alerts fired', String(v.alerts_fired || 0)));
}

// dashGroups lists the groups of the whole range; choosing one charts it
// alone, "All traffic" goes back.
function dashGroups(groupBy, group, rows, params, r) {
  $('dash-groups-panel').hidden = !groupBy;
  if (!groupBy) return;
  const pick = (g) => {
    const p = new URLSearchParams(params);
    if (g === null) p.delete('group'); else p.set('group', g);
    return vwHash('#/dashboard', p);
  };
  const all = el('tr', { 'data-group': '', class: group === null ? 'selected' : null, 'aria-selected': String(group === null) },
    el('td', null, el('i', null, 'All traffic')), ...Array.from({ length: 7 }, () => el('td')));
  vwOpens(all, pick(null));
  const trs = (rows || []).map((b) => {
    const g = b.group || '';
    const callsHash = dashLink({ link: 'calls' }, r.from, r.to, groupBy, g);
    const tr = el('tr', { 'data-group': g, class: group === g ? 'selected' : null, 'aria-selected': String(group === g) },
      el('td', { class: 'user' }, el('span', { class: 'mono' }, g || '(none)'), ' ', el('a', { href: callsHash, class: 'hint group-calls' }, 'calls')),
      el('td', { class: 'num' }, String(b.attempts)),
      el('td', { class: 'num' }, b.attempts ? dashPct(b.asr) : vwDash),
      el('td', { class: 'num' }, b.attempts ? dashPct(b.ner) : vwDash),
      el('td', { class: 'num' }, b.acd_s > 0 ? seconds(b.acd_s) : vwDash),
      el('td', { class: 'num' }, ms(b.pdd_p95_ms)),
      el('td', { class: 'num' }, `${b.mos_good} / ${b.mos_fair} / ${b.mos_poor}`),
      el('td', { class: 'num' }, b.registrations ? `${b.registrations_succeeded} / ${b.registrations}` : vwDash));
    vwOpens(tr, pick(g));
    return tr;
  });
  $('dash-groups').tBodies[0].replaceChildren(all, ...trs);
}

// Chart geometry, in SVG units; charts are drawn no smaller than this, so
// 12-unit text stays at least 11 px.
const DC = { W: 400, H: 190, L: 48, R: 12, T: 12, B: 30 };

// dashNice rounds a chart's top up to 1, 2 or 5 times a power of ten.
function dashNice(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

function dashAxisTime(t, r) {
  const iso = dashISO(t);
  return r.to - r.from > 86400000 ? iso.slice(5, 10) + ' ' + iso.slice(11, 16) : iso.slice(11, 16);
}

// dashChart draws one KPI over the range: one bar per bucket that has a
// value (ratios need a denominator), each a link with its exact value in
// data-value.
function dashChart(def, buckets, r, groupBy, group) {
  const pw = (DC.W - DC.L - DC.R) / r.count;
  const ph = DC.H - DC.T - DC.B;
  const val = (b) => (def.stacked ? def.stacked.reduce((s, band) => s + (b[band.key] || 0), 0) : b[def.key] || 0);
  const shown = buckets.filter((b) => (def.when ? b[def.when] > 0 : val(b) > 0));
  const top = def.pct ? 1 : dashNice(Math.max(0, ...shown.map(val)));
  const y = (v) => DC.T + ph - (v / top) * ph;
  const chart = svg('svg', { class: 'kpi-chart', viewBox: `0 0 ${DC.W} ${DC.H}`, role: 'group', 'aria-label': def.title, 'data-kpi': def.key });
  const tickText = (v) => (def.pct ? Math.round(v * 100) + '%' : (Number.isInteger(v) ? String(v) : v.toFixed(top < 1 ? 2 : 1)));
  for (const v of [0, top / 2, top]) {
    chart.append(
      svg('line', { class: 'grid-line', x1: DC.L, x2: DC.W - DC.R, y1: y(v), y2: y(v) }),
      svg('text', { class: 'axis-label', x: DC.L - 6, y: y(v) + 4, 'text-anchor': 'end' }, tickText(v)));
  }
  const ticks = r.count > 1 ? [0, Math.floor(r.count / 2), r.count] : [0, 1];
  for (const i of ticks) {
    const anchor = i === 0 ? 'start' : i >= r.count ? 'end' : 'middle';
    chart.append(svg('text', { class: 'axis-label', x: DC.L + i * pw, y: DC.H - 8, 'text-anchor': anchor },
      dashAxisTime(r.from + i * r.step * 1000, r)));
  }
  chart.append(svg('line', { class: 'axis-line', x1: DC.L, x2: DC.W - DC.R, y1: y(0), y2: y(0) }));
  const gap = pw > 6 ? 1.5 : 0.5;
  for (const b of shown) {
    const start = Date.parse(b.start);
    const i = Math.round((start - r.from) / (r.step * 1000));
    if (i < 0 || i >= r.count) continue;
    const end = Math.min(start + r.step * 1000, r.to);
    const x = DC.L + i * pw + gap;
    const w = Math.max(1, pw - 2 * gap);
    const when = `${dateTime(b.start)} – ${dateTime(dashISO(end))}`;
    if (def.stacked) {
      let acc = 0;
      for (const band of def.stacked) {
        const v = b[band.key] || 0;
        if (!v) continue;
        const a = svg('a', { class: 'kpi-bar ' + band.cls, href: dashLink(def, start, end, groupBy, group, band.q),
          'data-start': b.start, 'data-band': band.key, 'data-value': v },
        svg('title', null, `${when}: ${v} ${band.label}`),
        svg('rect', { x, y: y(acc + v), width: w, height: Math.max(0.5, y(acc) - y(acc + v)) }));
        chart.append(a);
        acc += v;
      }
      continue;
    }
    const v = val(b);
    const a = svg('a', { class: 'kpi-bar', href: dashLink(def, start, end, groupBy, group), 'data-start': b.start, 'data-value': v },
      svg('title', null, `${when}: ${def.fmt(v)}`),
      svg('rect', { x, y: y(v), width: w, height: Math.max(0.5, y(0) - y(v)) }));
    chart.append(a);
  }
  const legend = def.stacked
    ? el('span', { class: 'legend' }, ...def.stacked.map((band) => el('span', null, el('span', { class: 'swatch kpi-' + band.cls }), band.label)))
    : null;
  return el('figure', { class: 'panel dash-chart', 'data-kpi': def.key },
    el('figcaption', { class: 'panel-title' }, def.title, def.unit ? el('span', { class: 'hint' }, def.unit) : null, legend),
    chart,
    shown.length ? null : el('p', { class: 'empty small dash-none' }, 'No values in this range.'));
}

// initDashboard wires the presets, the custom range and the group-by
// selector; each changes the URL, and route() draws.
function initDashboard() {
  const go = (p) => { location.hash = vwHash('#/dashboard', p); };
  const current = () => new URLSearchParams((dashState && dashState.params) || '');
  for (const b of document.querySelectorAll('.dash-presets button')) {
    b.addEventListener('click', () => {
      const p = current();
      p.delete('group');
      if (b.dataset.range === 'custom') {
        $('dash-custom').hidden = false;
        $('dash-from').focus();
        return;
      }
      p.delete('from');
      p.delete('to');
      p.delete('step');
      p.set('range', b.dataset.range);
      go(p);
    });
  }
  $('dash-custom').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = current();
    p.delete('range');
    p.delete('group');
    p.set('from', vwToRFC3339($('dash-from').value));
    p.set('to', vwToRFC3339($('dash-to').value));
    if ($('dash-step').value) p.set('step', $('dash-step').value); else p.delete('step');
    go(p);
  });
  $('dash-group-by').addEventListener('change', () => {
    const p = current();
    p.delete('group');
    if ($('dash-group-by').value) p.set('group_by', $('dash-group-by').value); else p.delete('group_by');
    go(p);
  });
}
