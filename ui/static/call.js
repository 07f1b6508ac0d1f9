// sipscope web UI: one call (summary, diagnosis, ladder, message detail,
// streams, quality charts, DTMF).
'use strict';


let current = null; // { detail, selected, groups }

async function showCall(id) {
  $('list-view').hidden = true;
  $('call-view').hidden = false;
  document.title = 'sipscope – ' + id;
  $('call-title').textContent = id;
  $('call-summary').replaceChildren();
  $('call-timing').replaceChildren();
  $('call-legs').replaceChildren();
  $('call-legs').hidden = true;
  $('ladder').replaceChildren();
  $('streams').tBodies[0].replaceChildren();
  $('quality-charts').replaceChildren();
  $('dtmf').replaceChildren();
  $('quality-empty').hidden = true;
  $('dtmf-empty').hidden = true;
  resetDetail();

  const enc = encodeURIComponent(id);
  $('download-pcap').setAttribute('href', `${API}/calls/${enc}/pcap`);

  let detail;
  try {
    detail = await getJSON('/calls/' + enc);
  } catch (e) {
    if (e.name === 'AbortError') return;
    showError(e.status === 404 ? `No call with Call-ID ${id}.` : 'Cannot load call: ' + e.message);
    return;
  }
  current = { detail, selected: -1, groups: [] };
  renderSummary(detail.call);
  current.groups = drawLadder($('ladder'), detail.messages);
  renderStreams(detail.rtp_streams);
  renderQuality(detail.call, detail.rtp_streams);
}

function renderSummary(c) {
  const item = (label, ...value) => el('span', null, label + ' ', el('b', null, ...value));
  const parts = [
    item('From', c.from_user || '—'),
    item('To', c.to_user || '—'),
    el('span', null, stateBadge(c.state)),
    item('Final', el('span', { class: codeClass(c.final_code) }, c.final_code ? String(c.final_code) : '—')),
    item('Start', dateTime(c.start)),
    item('Duration', duration(c.start, c.end)),
    item('Messages', String(c.messages)),
    item('MOS', mosBadge(c.mos)),
  ];
  if (c.src_ip || c.dst_ip) parts.push(item('Path', `${c.src_ip || '?'} → ${c.dst_ip || '?'}`));
  if (c.partial) parts.push(el('span', { class: 'badge partial', id: 'partial', title: "the call's INVITE was not captured: its state is inferred from what was seen" }, 'Partial'));
  if (c.fax) parts.push(el('span', { class: 'badge fax', id: 'fax', title: 'fax: ' + c.fax }, c.fax === 't38' ? 'T.38 fax' : 'Fax (G.711)'));
  $('call-summary').replaceChildren(...parts);
  renderDiagnosis(c);
  renderTiming(c);
  renderLegs(c);
}

// renderDiagnosis puts the diagnosis sentence first: what went wrong (or
// right), in words, with the finding codes as its title.
function renderDiagnosis(c) {
  const p = $('call-diagnosis');
  p.textContent = c.diagnosis || '';
  p.title = (c.findings || []).join(', ');
  p.hidden = !c.diagnosis;
}

// renderTiming is the operator's second line: how the call ended, who
// hung up and why, and how long each phase took.
function renderTiming(c) {
  const item = (label, value, attrs) => el('span', attrs || null, label + ' ', el('b', null, value));
  const parts = [item('Ended', endReasonBadge(c.end_reason), { id: 'end-reason' })];
  if (c.bye_by) parts.push(item('Hung up by', c.bye_by, { id: 'bye-by' }));
  if (c.q850_cause || c.reason_header) {
    parts.push(item('Reason', c.q850_cause ? `Q.850 ${c.q850_cause}${c.q850_text ? ' ' + c.q850_text : ''}` : c.reason_header,
      { id: 'reason', title: c.reason_header || '' }));
  }
  parts.push(
    item('PDD', ms(c.pdd_ms), { id: 'pdd', title: 'INVITE to first 18x' }),
    item('Ring', ms(c.ring_ms), { id: 'ring', title: 'first 18x to final response' }),
    item('Answer', ms(c.answer_ms), { id: 'answer', title: 'INVITE to 200' }),
    item('Talk', ms(c.duration_ms), { id: 'talk', title: '200 to BYE' }));
  if (c.retransmissions) parts.push(item('Retransmissions', String(c.retransmissions), { id: 'retransmissions' }));
  if (c.re_invites) parts.push(item('Re-INVITEs', String(c.re_invites), { id: 're-invites' }));
  if (c.info_dtmf) parts.push(item('DTMF (SIP INFO)', c.info_dtmf, { id: 'info-dtmf' }));
  const flags = [];
  if (c.hold) flags.push('on hold');
  if (c.forked) flags.push('forked');
  if (c.finished === false) flags.push('live');
  if (flags.length) parts.push(item('Flags', flags.join(', '), { id: 'flags' }));
  if (c.user_agent) parts.push(item('UA', c.user_agent, { id: 'user-agent' }));
  $('call-timing').replaceChildren(...parts);
}

// renderLegs links the other legs of the call (B2BUA/SBC), so a user
// follows the call through the box that split it.
function renderLegs(c) {
  const legs = c.linked_call_ids || [];
  const box = $('call-legs');
  if (!legs.length) {
    box.hidden = true;
    return;
  }
  const links = legs.map((id) => el('a', { class: 'leg-link mono', href: callHash(id) }, id));
  const label = el('span', null, legs.length === 1 ? 'Other leg ' : 'Other legs ');
  box.replaceChildren(label, ...links);
  if (c.x_call_id) box.append(el('span', { class: 'hint', title: 'correlation header' }, `X-CID ${c.x_call_id}`));
  box.hidden = false;
}

function resetDetail() {
  $('message-title').textContent = 'Message';
  $('message-detail').textContent = 'Select a message in the flow to see it in full.';
}

// drawLadder draws the SIP flow: one column per IP:port in order of first
// appearance, one row per message with an arrow from its source column to
// its destination column. It returns the row groups in message order.
function drawLadder(container, msgs) {
  if (!msgs.length) {
    container.replaceChildren(el('p', { class: 'empty' }, 'No SIP messages stored for this call.'));
    return [];
  }
  const hosts = [];
  const column = new Map();
  for (const m of msgs) {
    for (const h of [m.src, m.dst]) {
      if (!column.has(h)) {
        column.set(h, hosts.length);
        hosts.push(h);
      }
    }
  }
  const longest = Math.max(...hosts.map((h) => h.length), 12);
  const TS_W = 140;
  const COL_W = Math.max(210, Math.ceil(longest * 7.4) + 36);
  const HEAD_H = 52;
  const ROW_H = 42;
  const LOOP_W = 46;
  const width = TS_W + hosts.length * COL_W + LOOP_W;
  const height = HEAD_H + msgs.length * ROW_H + 16;
  const x = (i) => TS_W + i * COL_W + COL_W / 2;

  const root = svg('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `SIP flow of ${msgs.length} messages between ${hosts.length} endpoints`,
  });

  hosts.forEach((h, i) => {
    const bw = Math.min(COL_W - 16, h.length * 7.4 + 20);
    root.append(
      svg('line', { class: 'lifeline', x1: x(i), y1: HEAD_H - 8, x2: x(i), y2: height - 6 }),
      svg('rect', { class: 'host-box', x: x(i) - bw / 2, y: 10, width: bw, height: 28, rx: 6 }),
      svg('text', { class: 'host-label', x: x(i), y: 28, 'text-anchor': 'middle' }, h));
  });

  const groups = [];
  let prevUs = NaN;
  msgs.forEach((m, i) => {
    const top = HEAD_H + i * ROW_H;
    const y = top + ROW_H * 0.62;
    const us = micros(m.ts);
    const delta = Number.isFinite(prevUs) && Number.isFinite(us) ? (us - prevUs) / 1e6 : 0;
    prevUs = us;
    const from = column.get(m.src);
    const to = column.get(m.dst);
    const x1 = x(from);
    const x2 = x(to);
    const label = messageLabel(m);

    const g = svg('g', { class: 'sip-arrow ' + arrowClass(m), 'data-index': i });
    g.append(
      svg('rect', { class: 'row-bg', x: 0, y: top, width, height: ROW_H }),
      svg('text', { class: 'ts', x: 10, y: top + 17 }, clock(m.ts)),
      svg('text', { class: 'delta', x: 10, y: top + 32 }, `+${delta.toFixed(3)} s`));

    if (from === to) {
      // A message to itself (a proxy looping back): a small loop on the right.
      g.append(
        svg('path', { class: 'shaft', d: `M${x1} ${y - 9} h${LOOP_W - 10} v18 h${-(LOOP_W - 18)}` }),
        svg('polygon', { class: 'head', points: `${x1},${y + 9} ${x1 + 9},${y + 4.5} ${x1 + 9},${y + 13.5}` }),
        svg('text', { class: 'label', x: x1 + LOOP_W - 4, y: y + 4 }, label));
    } else {
      const dir = x2 > x1 ? 1 : -1;
      g.append(
        svg('line', { x1, y1: y, x2: x2 - dir * 8, y2: y }),
        svg('polygon', { class: 'head', points: `${x2},${y} ${x2 - dir * 10},${y - 5} ${x2 - dir * 10},${y + 5}` }),
        svg('text', { class: 'label', x: (x1 + x2) / 2, y: y - 7, 'text-anchor': 'middle' }, label));
    }
    g.append(svg('title', null, `${label}\n${m.src} → ${m.dst} (${(m.transport || '').toUpperCase()})\n${m.ts}`));
    g.addEventListener('click', () => selectMessage(i));
    root.append(g);
    groups.push(g);
  });
  container.replaceChildren(root);
  return groups;
}

function selectMessage(i) {
  if (!current || i < 0 || i >= current.groups.length) return;
  if (current.selected >= 0) current.groups[current.selected].classList.remove('selected');
  current.selected = i;
  const g = current.groups[i];
  g.classList.add('selected');
  g.scrollIntoView({ block: 'nearest' });
  renderDetail(current.detail.messages[i], i);
}

// renderDetail shows one message in full: start line, header names and
// body told apart by colour; line ends normalised to \n for display.
function renderDetail(m, i) {
  $('message-title').textContent = `#${i + 1}  ${messageLabel(m)}`;
  const pre = $('message-detail');
  const meta = el('span', { class: 'meta' },
    `${m.ts}  ·  ${m.src} → ${m.dst}  ·  ${(m.transport || '').toUpperCase()}` +
    (m.cseq ? `  ·  CSeq ${m.cseq} ${m.cseq_method || ''}` : ''));
  const raw = (m.raw || '').replace(/\r\n/g, '\n');
  const split = raw.indexOf('\n\n');
  const head = split >= 0 ? raw.slice(0, split) : raw;
  const body = split >= 0 ? raw.slice(split + 2) : '';
  const lines = head.split('\n');
  const parts = [meta, el('span', { class: 'start-line' }, lines[0]), '\n'];
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c > 0 && !/^[ \t]/.test(line)) {
      parts.push(el('span', { class: 'hname' }, line.slice(0, c)), line.slice(c), '\n');
    } else {
      parts.push(line, '\n');
    }
  }
  if (split >= 0) parts.push('\n', el('span', { class: 'body' }, body));
  pre.replaceChildren(...parts);
  pre.scrollTop = 0;
}

function renderStreams(streams) {
  const rows = streams.map((s) => {
    const expected = s.expected > 0 ? s.expected : s.packets + Math.max(0, s.lost);
    const lossPct = expected > 0 ? (Math.max(0, s.lost) / expected) * 100 : 0;
    const effLost = s.effective_lost || 0;
    const due = s.expected > 0 ? s.expected : s.packets + effLost;
    const effPct = due > 0 ? (Math.max(0, effLost) / due) * 100 : 0;
    const rtcp = s.rtcp || {};
    const rttTitle = s.rtt_ms > 0 && rtcp.rtt_samples > 0
      ? `RTCP round trip: mean of ${rtcp.rtt_samples}, latest ${num(rtcp.rtt_ms, 1)} ms, max ${num(rtcp.max_rtt_ms, 1)} ms`
      : (s.rtt_ms > 0 ? 'RTCP XR round trip delay' : 'no round trip reported');
    return el('tr', { class: 'stream-row' },
      el('td', { class: 'mono' }, s.src),
      el('td', { class: 'mono' }, s.dst),
      el('td', { class: 'mono' }, s.ssrc),
      el('td', null, s.payload || String(s.payload_type)),
      el('td', { class: 'num' }, String(s.packets)),
      el('td', { class: 'num' + (s.lost > 0 ? ' code-err' : '') }, String(s.lost)),
      el('td', { class: 'num' + (lossPct > 0 ? ' code-err' : '') }, lossPct.toFixed(1) + ' %'),
      el('td', { class: 'num' }, num(s.max_delta_ms, 2)),
      el('td', { class: 'num' }, num(s.mean_jitter_ms, 2)),
      el('td', { class: 'num' }, num(s.max_jitter_ms, 2)),
      el('td', { class: 'num' + (s.late > 0 ? ' code-err' : '') }, String(s.late || 0)),
      el('td', { class: 'num' + (effPct > 0 ? ' code-err' : ''), title: `${effLost} sequence numbers missing or late` },
        effPct.toFixed(1) + ' %'),
      el('td', { class: 'num', title: s.jitter_buffer ? `${s.jitter_buffer} jitter buffer` : null },
        s.jitter_buffer ? num(s.jitter_buffer_ms, 1) : '—'),
      el('td', { class: 'num', title: rttTitle }, s.rtt_ms > 0 ? num(s.rtt_ms, 1) : '—'),
      el('td', { class: 'num' }, s.r_factor > 0 ? num(s.r_factor, 1) : '—'),
      el('td', { class: 'num' }, mosBadge(s.mos)));
  });
  $('streams').tBodies[0].replaceChildren(...rows);
  $('streams-empty').hidden = rows.length > 0;
}

// ---- Quality charts --------------------------------------------------------

// MOS bands, as mosBadge colours them; the chart's y axis spans 1 to 4.5,
// the E-model's range for narrowband and wideband alike.
const MOS_MIN = 1;
const MOS_MAX = 4.5;
const BANDS = [
  { cls: 'band-good', from: 4.0, to: MOS_MAX },
  { cls: 'band-fair', from: 3.6, to: 4.0 },
  { cls: 'band-poor', from: MOS_MIN, to: 3.6 },
];

// niceStep picks an axis step from 1-2-5 multiples (and minutes) that
// gives at most maxTicks ticks over span.
function niceStep(span, maxTicks) {
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];
  for (const st of steps) {
    if (span / st <= maxTicks) return st;
  }
  return Math.ceil(span / maxTicks / 86400) * 86400;
}

function tickLabel(sec) {
  if (sec < 60) return (Number.isInteger(sec) ? sec : sec.toFixed(1)) + ' s';
  const m = Math.floor(sec / 60);
  const r = Math.round(sec % 60);
  return r ? `${m}m${String(r).padStart(2, '0')}` : `${m}m`;
}

// renderQuality draws one chart per stream that has a MOS timeline, all
// on the same time axis (seconds from the call's start) so that a drop
// in one direction lines up with the other, and lists the DTMF digits.
function renderQuality(call, streams) {
  const callUs = micros(call.start);
  const starts = streams.map((s) => micros(s.start)).filter(Number.isFinite);
  const originUs = Number.isFinite(callUs) ? callUs : (starts.length ? Math.min(...starts) : 0);
  const rel = (us) => (us - originUs) / 1e6;

  const withTimeline = streams.filter((s) => (s.mos_timeline || []).length > 0);
  let endSec = 0;
  for (const s of withTimeline) {
    const off = rel(micros(s.start));
    for (const iv of s.mos_timeline) endSec = Math.max(endSec, off + (iv.start_ms + iv.duration_ms) / 1000);
  }
  const callEnd = rel(micros(call.end));
  if (Number.isFinite(callEnd)) endSec = Math.max(endSec, callEnd);

  const dtmf = [];
  for (const s of streams) {
    for (const e of s.dtmf || []) dtmf.push({ e, s, t: rel(micros(e.start)) });
  }
  dtmf.sort((a, b) => a.t - b.t);

  const charts = withTimeline.map((s) => drawMOSChart(s, rel, Math.max(endSec, 1),
    dtmf.filter((d) => d.s === s)));
  $('quality-charts').replaceChildren(...charts);
  $('quality-empty').hidden = charts.length > 0;
  renderDTMF(dtmf);
}

function drawMOSChart(s, rel, endSec, dtmf) {
  const W = 960;
  const H = 210;
  const L = 46;
  const R = 50;
  const T = 16;
  const B = 28;
  const pw = W - L - R;
  const ph = H - T - B;
  const x = (sec) => L + (Math.max(0, Math.min(sec, endSec)) / endSec) * pw;
  const y = (mos) => T + ((MOS_MAX - Math.max(MOS_MIN, Math.min(mos, MOS_MAX))) / (MOS_MAX - MOS_MIN)) * ph;
  const offset = rel(micros(s.start));
  const tl = s.mos_timeline;
  const lossMax = Math.max(5, Math.ceil(Math.max(...tl.map((iv) => iv.loss_pct || 0)) / 5) * 5);
  const yLoss = (pct) => T + ph - (Math.min(pct, lossMax) / lossMax) * ph;

  const root = svg('svg', {
    class: 'mos-chart', viewBox: `0 0 ${W} ${H}`, 'data-ssrc': s.ssrc, role: 'img',
    'aria-label': `MOS per interval of stream ${s.ssrc} from ${s.src} to ${s.dst}`,
  });
  for (const b of BANDS) {
    root.append(svg('rect', { class: 'band ' + b.cls, x: L, y: y(b.to), width: pw, height: y(b.from) - y(b.to) }));
  }
  for (const m of [1, 2, 3, 3.6, 4, 4.5]) {
    root.append(
      svg('line', { class: 'grid-line', x1: L, x2: L + pw, y1: y(m), y2: y(m) }),
      svg('text', { class: 'axis-label', x: L - 6, y: y(m) + 4, 'text-anchor': 'end' }, m.toFixed(1)));
  }
  root.append(
    svg('text', { class: 'axis-label loss-axis', x: L + pw + 6, y: T + 4 }, `${lossMax} %`),
    svg('text', { class: 'axis-label loss-axis', x: L + pw + 6, y: T + ph + 4 }, '0 %'));
  const step = niceStep(endSec, 10);
  for (let t = 0; t <= endSec + 1e-9; t += step) {
    root.append(
      svg('line', { class: 'tick', x1: x(t), x2: x(t), y1: T + ph, y2: T + ph + 5 }),
      svg('text', { class: 'axis-label', x: x(t), y: H - 8, 'text-anchor': 'middle' }, tickLabel(t)));
  }

  // Loss bars first, so the MOS line stays on top.
  const bars = svg('g', { class: 'loss-bars' });
  for (const iv of tl) {
    if (!(iv.loss_pct > 0)) continue;
    const x0 = x(offset + iv.start_ms / 1000);
    const x1 = x(offset + (iv.start_ms + iv.duration_ms) / 1000);
    bars.append(svg('rect', { class: 'loss-bar', x: x0 + 0.5, y: yLoss(iv.loss_pct), width: Math.max(1, x1 - x0 - 1),
      height: T + ph - yLoss(iv.loss_pct) }, svg('title', null, `loss ${num(iv.loss_pct, 1)} %`)));
  }
  root.append(bars);

  // The line breaks at intervals where nothing was due (mos 0): a hold
  // is not bad quality.
  const segments = [];
  let seg = [];
  const points = svg('g', { class: 'mos-points' });
  for (const iv of tl) {
    if (!(iv.mos > 0)) {
      if (seg.length) segments.push(seg);
      seg = [];
      continue;
    }
    const startSec = offset + iv.start_ms / 1000;
    const px = x(startSec + iv.duration_ms / 2000);
    const py = y(iv.mos);
    seg.push(`${px.toFixed(1)},${py.toFixed(1)}`);
    const cls = iv.mos >= 4.0 ? 'good' : iv.mos >= 3.6 ? 'fair' : 'poor';
    points.append(svg('circle', { class: 'mos-point ' + cls, cx: px, cy: py, r: 3.5,
      'data-start': startSec.toFixed(3), 'data-mos': iv.mos.toFixed(2) },
    svg('title', null,
      `${startSec.toFixed(1)}–${(startSec + iv.duration_ms / 1000).toFixed(1)} s: MOS ${iv.mos.toFixed(2)}\n` +
      `loss ${num(iv.loss_pct, 1)} % (${iv.lost} lost, ${iv.late} late of ${iv.packets + iv.lost} due)\n` +
      `jitter buffer ${num(iv.jitter_buffer_ms, 1)} ms, burst ratio ${num(iv.burst_r, 2)}`)));
  }
  if (seg.length) segments.push(seg);
  // A lone interval between gaps is its point alone.
  for (const sg of segments.filter((g) => g.length > 1)) {
    root.append(svg('polyline', { class: 'mos-line', points: sg.join(' ') }));
  }
  root.append(points);

  for (const d of dtmf) {
    const dx = x(d.t);
    root.append(svg('g', { class: 'dtmf-mark' },
      svg('line', { x1: dx, x2: dx, y1: T, y2: T + ph }),
      svg('text', { x: dx + 3, y: T + 11 }, d.e.digit),
      svg('title', null, `DTMF ${d.e.digit} at ${d.t.toFixed(3)} s`)));
  }
  root.append(svg('rect', { class: 'plot-frame', x: L, y: T, width: pw, height: ph }));

  const caption = el('div', { class: 'chart-caption' },
    el('span', { class: 'mono' }, `${s.src} → ${s.dst}`),
    el('span', { class: 'mono hint' }, s.ssrc),
    el('span', null, s.payload || String(s.payload_type)),
    el('span', null, 'MOS ', mosBadge(s.mos)));
  return el('figure', { class: 'chart-box' }, caption, root);
}

function renderDTMF(events) {
  const items = events.map((d) => el('li', { class: 'dtmf-event' },
    el('span', { class: 'dtmf-time mono', title: d.e.start }, `+${d.t.toFixed(3)} s`),
    el('span', { class: 'dtmf-digit' }, d.e.digit),
    el('span', { class: 'dtmf-meta' },
      `${Math.round(d.e.duration_ms)} ms, −${d.e.volume} dBm0`),
    el('span', { class: 'dtmf-stream mono hint' }, `${d.s.src} → ${d.s.dst}`)));
  $('dtmf').replaceChildren(...items);
  $('dtmf-empty').hidden = items.length > 0;
}

// initCall lets j/k and the arrow keys walk the ladder's messages.
function initCall() {
  $('ladder').addEventListener('keydown', (ev) => {
    if (!current) return;
    if (ev.key === 'ArrowDown' || ev.key === 'j') {
      selectMessage(Math.min(current.groups.length - 1, current.selected + 1));
      ev.preventDefault();
    } else if (ev.key === 'ArrowUp' || ev.key === 'k') {
      selectMessage(Math.max(0, current.selected - 1));
      ev.preventDefault();
    }
  });
}
