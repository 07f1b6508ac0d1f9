// sipscope web UI: one call (diagnosis, header, actions, ladder with RTP
// bands and B2BUA legs, message detail, streams, quality charts, audio,
// DTMF). Loaded after core.js, whose helpers it uses.
'use strict';

let callView = null; // { seq, detail, rows, groups, selected, legs, dirs }
let callSeq = 0; // bumps on every showCall so a late answer never draws over a newer call

// The API lists at most this many other legs per call; more would be a
// loop of linked Call-IDs rather than a B2BUA, and each costs a request.
const MAX_LEGS = 6;
const CALL_LEGS_KEY = 'sipscope.callLegs';

// callFetch is a plain GET that, unlike getJSON, does not cancel the page's
// request in flight: the call view loads its legs and the user's role
// beside the call itself.
async function callFetch(path) {
  const resp = await fetch(API + path, { headers: { Accept: 'application/json' } });
  if (!resp.ok) {
    const err = new Error('HTTP ' + resp.status);
    err.status = resp.status;
    throw err;
  }
  return resp.json();
}

// fetchLeg reads another leg of the call, or null when it was never
// stored: the search by exact Call-ID asks first, so that a leg named in a
// header but not captured costs no failed request.
async function fetchLeg(id) {
  try {
    const found = await callFetch('/calls?limit=1&call_id=' + encodeURIComponent(id));
    if (!found.calls || !found.calls.length) return null;
    return await callFetch('/calls/' + encodeURIComponent(id));
  } catch (_) {
    return null;
  }
}

// callMayExport: PCAP and audio are what was said; the API lets operators and
// admins have them, so the page only offers them to those.
const callMayExport = (role) => role === 'operator' || role === 'admin';

function showLegsPref() {
  try {
    return localStorage.getItem(CALL_LEGS_KEY) !== 'off';
  } catch (_) {
    return true;
  }
}

async function showCall(id) {
  const seq = ++callSeq;
  $('list-view').hidden = true;
  $('call-view').hidden = false;
  document.title = 'sipscope – ' + id;
  $('call-title').textContent = id;
  for (const box of ['call-summary', 'call-timing', 'call-legs', 'ladder', 'ladder-legs', 'quality-charts', 'dtmf', 'audio-players']) {
    $(box).replaceChildren();
  }
  $('streams').tBodies[0].replaceChildren();
  for (const hide of ['call-legs', 'ladder-legs', 'legs-toggle', 'quality-empty', 'dtmf-empty', 'audio-panel',
    'download-pcap', 'download-pcap-legs', 'call-diagnosis']) {
    $(hide).hidden = true;
  }
  callView = null;
  resetDetail();

  const enc = encodeURIComponent(id);
  $('download-pcap').setAttribute('href', `${API}/calls/${enc}/pcap`);
  $('download-pcap-legs').setAttribute('href', `${API}/calls/${enc}/pcap?legs=1`);
  $('download-text').setAttribute('href', `${API}/calls/${enc}/text`);

  const rolePromise = callFetch('/me').then((me) => me.role || '', () => '');
  let detail;
  try {
    detail = await getJSON('/calls/' + enc);
  } catch (e) {
    if (e.name === 'AbortError') return;
    showError(e.status === 404 ? `No call with Call-ID ${id}.` : 'Cannot load call: ' + e.message);
    return;
  }
  if (seq !== callSeq) return;

  // The other legs are drawn in the same flow; a leg that cannot be read
  // (not stored, or gone) is left out rather than failing the call.
  const legIDs = (detail.call.linked_call_ids || []).filter((l) => l !== detail.call.call_id).slice(0, MAX_LEGS);
  const [role, legs] = await Promise.all([rolePromise,
    Promise.all(legIDs.map(fetchLeg))]);
  if (seq !== callSeq) return;

  const all = [detail].concat(legs.filter((l) => l && l.call));
  callView = { seq, detail, legs: all, rows: [], groups: [], selected: -1, dirs: new Map() };
  for (const d of all) {
    for (const [s, dir] of streamDirections(d)) callView.dirs.set(s, dir);
  }

  renderSummary(detail.call);
  renderActions(detail, role);
  $('legs-toggle').hidden = all.length < 2;
  $('show-legs').checked = showLegsPref();
  drawFlow();
  renderStreams(detail.rtp_streams);
  renderQuality(detail.call, detail.rtp_streams);
  renderAudio(detail, role);
  preselectFinal(detail.call);
}

// ---- Header ----------------------------------------------------------------

function renderSummary(c) {
  const item = (label, attrs, ...value) => el('span', attrs, label + ' ', el('b', null, ...value));
  const finalText = c.final_code ? `${c.final_code}${c.final_text ? ' ' + c.final_text : ''}` : '—';
  const parts = [
    item('From', null, c.from_user || '—'),
    item('To', null, c.to_user || '—'),
    el('span', { id: 'state' }, stateBadge(c.state)),
    item('Final', { id: 'final' }, el('span', { class: codeClass(c.final_code) }, finalText)),
    item('Start', null, dateTime(c.start)),
    item('Span', { id: 'span', title: 'first to last SIP message of the call' }, duration(c.start, c.end) || '—'),
    item('Messages', null, String(c.messages)),
  ];
  // MOS is the worst direction's; a call without RTP, or one that moved
  // to T.38, has none to give, and the badge says which.
  let mosTitle = 'MOS of the worse direction (E-model)';
  let mos = mosBadge(c.mos);
  if (!c.mos && c.fax === 't38') {
    mos = el('span', { class: 'badge mos mos-none' }, 'fax');
    mosTitle = 'the call carried T.38 fax, not audio';
  } else if (!c.mos) {
    mosTitle = 'no RTP was measured';
  }
  parts.push(item('MOS', { id: 'mos', title: mosTitle }, mos));
  if (c.src_ip || c.dst_ip) parts.push(item('Path', null, `${c.src_ip || '?'} → ${c.dst_ip || '?'}`));
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
// hung up and why, and how long each phase took. A phase that cannot have
// happened (talk time of a call never answered) is left out instead of
// showing a dash that reads like a measurement failure; without the
// INVITE, the timings it bounds say so.
function renderTiming(c) {
  const item = (label, value, attrs) => el('span', attrs || null, label + ' ', el('b', null, value));
  const parts = [item('Ended', endReasonBadge(c.end_reason), { id: 'end-reason' })];
  if (c.bye_by) parts.push(item('Hung up by', c.bye_by, { id: 'bye-by' }));
  if (c.q850_cause || c.reason_header) {
    parts.push(item('Reason', c.q850_cause ? `Q.850 ${c.q850_cause}${c.q850_text ? ' ' + c.q850_text : ''}` : c.reason_header,
      { id: 'reason', title: c.reason_header || '' }));
  }
  const unseen = c.partial ? 'INVITE not captured' : '';
  const timing = (v, what) => (v > 0 ? ms(v) : (unseen || what));
  parts.push(item('PDD', timing(c.pdd_ms, '—'), { id: 'pdd', title: 'INVITE to first 18x' }));
  if (c.ring_ms > 0) parts.push(item('Ring', ms(c.ring_ms), { id: 'ring', title: 'first 18x to final response' }));
  if (c.state === 'answered') {
    parts.push(
      item('Answer', timing(c.answer_ms, '—'), { id: 'answer', title: 'INVITE to 200' }),
      item('Talk', c.duration_ms > 0 ? ms(c.duration_ms) : (c.finished === false ? 'ongoing' : (c.end_reason === 'no_bye' ? 'no BYE seen' : '—')),
        { id: 'talk', title: '200 to BYE' }));
  }
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

// renderActions offers the exports the user's role may have: the text
// export to everyone, PCAP only to operators and admins.
function renderActions(detail, role) {
  const ok = callMayExport(role);
  $('download-pcap').hidden = !ok;
  $('download-pcap-legs').hidden = !ok || !(detail.call.linked_call_ids || []).length;
}

// ---- Directions ------------------------------------------------------------

// addrHost splits the API's "ip:port" / "[v6]:port" into its address.
function addrHost(ap) {
  if (!ap) return '';
  if (ap[0] === '[') {
    const end = ap.indexOf(']');
    return end > 0 ? ap.slice(1, end) : ap;
  }
  const c = ap.lastIndexOf(':');
  return c > 0 ? ap.slice(0, c) : ap;
}

function addrPort(ap) {
  const c = (ap || '').lastIndexOf(':');
  return c > 0 ? ap.slice(c + 1) : '';
}

const sipHeader = (raw, re) => {
  const m = re.exec(raw || '');
  return m ? m[1].trim() : '';
};
const FROM_TAG = /^(?:from|f)[ \t]*:[^\r\n]*?;[ \t]*tag=([^;,\s>]+)/im;
const TO_TAG = /^(?:to|t)[ \t]*:[^\r\n]*?;[ \t]*tag=([^;,\s>]+)/im;
const VIA_BRANCH = /^(?:via|v)[ \t]*:[^\r\n]*?;[ \t]*branch=([^;,\s]+)/im;
const AGENT = /^(?:user-agent|server)[ \t]*:[ \t]*([^\r\n]*)/im;

// sdpAudio returns "ip|port" of the first audio m= line of a message's
// SDP body (media-level c= over session-level), or "".
function sdpAudio(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  if (split < 0) return '';
  const body = raw.slice(split).trim();
  if (!body.startsWith('v=')) return '';
  let sessionAddr = '';
  let mediaAddr = '';
  let port = 0;
  let inAudio = false;
  let seenM = false;
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      if (inAudio) break;
      seenM = true;
      inAudio = /^m=audio\s/.test(line);
      if (inAudio) port = parseInt(line.split(/\s+/)[1], 10) || 0;
    } else if (line.startsWith('c=')) {
      const addr = (line.split(/\s+/)[2] || '').split('/')[0].toLowerCase();
      if (!seenM) sessionAddr = addr;
      else if (inAudio) mediaAddr = addr;
    }
  }
  const addr = mediaAddr || sessionAddr;
  return inAudio && port > 0 && addr ? `${addr}|${port}` : '';
}

const apKey = (ap) => `${addrHost(ap).toLowerCase()}|${addrPort(ap)}`;

// streamDirections tells which way each stream of a call goes, the way
// the diagnosis does: RTP is sent to where its receiver's SDP asked, else
// from where its sender's SDP said (symmetric RTP), else by the signalling
// addresses. The caller's SDP is in its requests (and the callee's in the
// responses to them); a request from the callee reverses that.
function streamDirections(d) {
  const c = d.call;
  const callerSDP = new Set();
  const calleeSDP = new Set();
  const invite = d.messages.find((m) => m.is_request && m.method === 'INVITE');
  const callerTag = invite ? sipHeader(invite.raw, FROM_TAG) : '';
  for (const m of d.messages) {
    const a = sdpAudio(m.raw || '');
    if (!a) continue;
    const fromCaller = !callerTag || sipHeader(m.raw, FROM_TAG) === callerTag;
    ((m.is_request === fromCaller) ? callerSDP : calleeSDP).add(a);
  }
  const out = new Map();
  for (const s of d.rtp_streams) {
    const src = apKey(s.src);
    const dst = apKey(s.dst);
    let dir = '';
    if (calleeSDP.has(dst)) dir = 'caller';
    else if (callerSDP.has(dst)) dir = 'callee';
    else if (callerSDP.has(src)) dir = 'caller';
    else if (calleeSDP.has(src)) dir = 'callee';
    else if (addrHost(s.src) === c.src_ip || addrHost(s.dst) === c.dst_ip) dir = 'caller';
    else if (addrHost(s.src) === c.dst_ip || addrHost(s.dst) === c.src_ip) dir = 'callee';
    out.set(s, dir);
  }
  return out;
}

// streamDirName labels a direction the same way everywhere on the page.
function streamDirName(dir) {
  if (dir === 'caller') return 'caller→callee';
  if (dir === 'callee') return 'callee→caller';
  return 'direction unknown';
}

// oneWay reports whether a call's audio went one way only: the diagnosis
// says so, or an answered call has RTP in just one known direction.
function oneWay(d, dirs) {
  if ((d.call.findings || []).some((f) => f.startsWith('one_way_audio'))) return true;
  if (d.call.state !== 'answered') return false;
  const seen = new Set();
  for (const s of d.rtp_streams) {
    if (s.payload === 't38' || !(s.packets > 0)) continue;
    seen.add(dirs.get(s) || '');
  }
  return seen.size === 1 && !seen.has('');
}

// ---- Ladder ----------------------------------------------------------------

function resetDetail() {
  $('message-title').textContent = 'Message';
  $('message-detail').textContent = 'Select a message in the flow to see it in full.';
}

// drawFlow builds the rows of the flow (messages of this call and, when
// shown, of its other legs, merged by time, and one row per RTP stream at
// its start) and draws them, timing the drawing for the record.
function drawFlow() {
  const cur = callView;
  const withLegs = cur.legs.length > 1 && $('show-legs').checked;
  const legs = withLegs ? cur.legs : cur.legs.slice(0, 1);
  const msgs = [];
  const streams = [];
  legs.forEach((d, leg) => {
    const ow = oneWay(d, cur.dirs);
    d.messages.forEach((m, i) => msgs.push({ m, leg, i, us: micros(m.ts) }));
    for (const s of d.rtp_streams) streams.push({ s, leg, us: micros(s.start), dir: cur.dirs.get(s) || '', oneWay: ow });
  });
  // One leg is already in capture order; legs interleave by time, ties
  // keeping each leg's own order.
  if (legs.length > 1) msgs.sort((a, b) => (a.us - b.us) || (a.leg - b.leg) || (a.i - b.i));
  streams.sort((a, b) => a.us - b.us);
  markRetransmissions(msgs);

  const t0 = performance.now();
  cur.msgs = msgs;
  const drawn = drawLadder($('ladder'), msgs, streams, legs);
  cur.groups = drawn.groups;
  cur.tops = drawn.tops;
  cur.selBg = drawn.selBg;
  const took = performance.now() - t0;
  // Style and layout of the new drawing, which the browser would do
  // before the next paint anyway, done now so that the record holds the
  // whole cost of showing the ladder, not just building it.
  void $('ladder').getBoundingClientRect().height;
  const shown = performance.now() - t0;
  performance.measure('ladder:layout', { start: t0 + took, end: t0 + shown });
  $('ladder').dataset.drawMs = took.toFixed(1);
  $('ladder').dataset.shownMs = shown.toFixed(1);
  cur.selected = -1;
  renderLegend(legs, withLegs);
}

// markRetransmissions finds the copies of a message on the same hop: a
// request with the same top Via branch, CSeq and method; a response with
// the same branch, CSeq, status and To tag, and the same length (as the
// correlator tells them apart). Each copy learns its ordinal, the first
// its total.
function markRetransmissions(msgs) {
  const first = new Map();
  for (const it of msgs) {
    const m = it.m;
    const branch = sipHeader(m.raw, VIA_BRANCH);
    let key = `${it.leg}|${m.src}|${m.dst}|${branch}|${m.cseq}|${m.cseq_method}|`;
    key += m.is_request ? m.method : `${m.status_code}|${sipHeader(m.raw, TO_TAG)}|${(m.raw || '').length}`;
    const orig = first.get(key);
    if (orig) {
      orig.copies++;
      it.copy = orig.copies;
      it.orig = orig;
    } else {
      it.copies = 1;
      first.set(key, it);
    }
  }
}

// drawLadder draws the SIP flow: one column per IP address (its ports and
// the user agent it announced under it), one row per message with an
// arrow from its source column to its destination column, retransmissions
// dashed, and each RTP stream as a band between its endpoints' columns
// over the time it flowed. It returns the message rows' groups in order.
function drawLadder(container, msgs, streams, legs) {
  const t0 = performance.now();
  if (!msgs.length) {
    container.replaceChildren(el('p', { class: 'empty' }, 'No SIP messages stored for this call.'));
    return { groups: [], tops: [], selBg: null };
  }
  // Columns: IPs in order of first appearance, then media-only IPs.
  const cols = [];
  const colOf = new Map();
  const addHost = (ap, media) => {
    const ip = addrHost(ap);
    let c = colOf.get(ip);
    if (!c) {
      c = { ip, ports: [], agent: '', media, i: cols.length };
      colOf.set(ip, c);
      cols.push(c);
    }
    const p = addrPort(ap);
    if (!media && p && !c.ports.includes(p)) c.ports.push(p);
    return c;
  };
  for (const it of msgs) {
    const c = addHost(it.m.src, false);
    addHost(it.m.dst, false);
    if (!c.agent) c.agent = sipHeader(it.m.raw, AGENT);
  }
  for (const st of streams) {
    addHost(st.s.src, true);
    addHost(st.s.dst, true);
  }
  const label = (c) => (c.ports.length === 1 ? (c.ip.includes(':') ? `[${c.ip}]:${c.ports[0]}` : `${c.ip}:${c.ports[0]}`) : c.ip);
  const sub = (c) => {
    const ports = c.ports.length > 1 ? c.ports.map((p) => ':' + p).join(' ') : '';
    const agent = c.agent.length > 30 ? c.agent.slice(0, 29) + '…' : c.agent;
    if (c.media && !c.ports.length) return 'media only';
    return [ports, agent].filter(Boolean).join(' · ');
  };
  const longest = Math.max(...cols.map((c) => Math.max(label(c).length * 7.4, sub(c).length * 6.3)), 90);
  const TS_W = legs.length > 1 ? 168 : 150;
  const COL_W = Math.max(170, Math.ceil(longest) + 30);
  const HEAD_H = 62;
  const ROW_H = 40;
  const RTP_H = 30;
  const LOOP_W = 46;
  const x = (c) => TS_W + c.i * COL_W + COL_W / 2;
  // An RTP row's text starts at its left column and may run past the last
  // column: the drawing widens rather than cutting it.
  let width = TS_W + cols.length * COL_W + LOOP_W;
  for (const st of streams) {
    st.text = rtpFigures(st);
    const left = Math.min(x(colOf.get(addrHost(st.s.src))), x(colOf.get(addrHost(st.s.dst))));
    width = Math.max(width, left + 12 + (('RTP ' + streamDirName(st.dir)).length + 3 + st.text.length) * 6.9 + 16);
  }
  width = Math.ceil(width);

  // Rows in time order: a stream's row comes after the messages sent up
  // to its first packet.
  const rows = [];
  let si = 0;
  for (const it of msgs) {
    while (si < streams.length && streams[si].us < it.us) rows.push({ rtp: streams[si++] });
    rows.push({ msg: it });
  }
  while (si < streams.length) rows.push({ rtp: streams[si++] });
  let y = HEAD_H;
  const times = [];
  const mids = [];
  for (const r of rows) {
    r.top = y;
    r.h = r.rtp ? RTP_H : ROW_H;
    y += r.h;
    const t = r.rtp ? r.rtp.us : r.msg.us;
    if (Number.isFinite(t)) {
      times.push(t);
      mids.push(r.top + r.h / 2);
    }
  }
  const height = y + 16;
  // yAt places a time between the rows around it, so that a band ends
  // where its stream did even though rows are not to scale.
  const yAt = (t) => {
    if (!times.length || !Number.isFinite(t)) return height - 8;
    if (t <= times[0]) return mids[0];
    if (t >= times[times.length - 1]) return Math.max(mids[mids.length - 1], height - 10);
    let lo = 0;
    let hi = times.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (times[mid] <= t) lo = mid;
      else hi = mid;
    }
    const f = times[hi] > times[lo] ? (t - times[lo]) / (times[hi] - times[lo]) : 0;
    return mids[lo] + f * (mids[hi] - mids[lo]);
  };

  const tLayout = performance.now();
  performance.measure('ladder:plan', { start: t0, end: tLayout });
  const root = svg('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, role: 'list',
    'aria-label': `SIP flow of ${msgs.length} messages between ${cols.length} hosts` +
      (streams.length ? ` and ${streams.length} RTP streams` : ''),
  });
  const head = svg('g', { class: 'hosts', 'aria-hidden': 'true' });
  for (const c of cols) {
    const text = label(c);
    const bw = Math.min(COL_W - 16, Math.max(text.length * 7.4, sub(c).length * 6.3) + 20);
    head.append(
      svg('line', { class: 'lifeline' + (c.media ? ' media' : ''), x1: x(c), y1: HEAD_H - 6, x2: x(c), y2: height - 6 }),
      svg('rect', { class: 'host-box' + (c.media ? ' media' : ''), x: x(c) - bw / 2, y: 6, width: bw, height: 44, rx: 6 }),
      svg('text', { class: 'host-label', x: x(c), y: 24, 'text-anchor': 'middle' }, text),
      svg('text', { class: 'host-sub', x: x(c), y: 41, 'text-anchor': 'middle' }, sub(c)),
      svg('title', null, [text, c.ports.length > 1 ? 'ports ' + c.ports.join(', ') : '', c.agent].filter(Boolean).join('\n')));
  }
  root.append(head);

  // Bands first, so that arrows stay on top; streams between the same two
  // columns share the space side by side.
  const bands = svg('g', { class: 'rtp-bands', 'aria-hidden': 'true' });
  const lanes = new Map();
  for (const st of streams) {
    const a = colOf.get(addrHost(st.s.src));
    const b = colOf.get(addrHost(st.s.dst));
    const k = Math.min(a.i, b.i) + '-' + Math.max(a.i, b.i);
    st.lane = (lanes.get(k) || 0);
    lanes.set(k, st.lane + 1);
    st.pair = k;
  }
  const rowOfStream = new Map();
  for (const r of rows) if (r.rtp) rowOfStream.set(r.rtp, r);

  // Few elements per row keep a long call quick to draw: the selected
  // row's highlight is one rectangle that moves, and what a tooltip would
  // say is in the arrow's accessible name and the message panel.
  const groups = [];
  const tops = [];
  const frag = document.createDocumentFragment();
  const selBg = svg('rect', { class: 'sel-bg', x: 0, y: 0, width, height: ROW_H, visibility: 'hidden' });
  let prevUs = NaN;
  let n = 0;
  for (const r of rows) {
    if (r.rtp) {
      frag.append(drawRTPRow(r, colOf, x, width, lanes, bands, yAt, COL_W, TS_W, legs.length));
      continue;
    }
    const it = r.msg;
    const m = it.m;
    const top = r.top;
    const yy = top + ROW_H * 0.62;
    const delta = Number.isFinite(prevUs) && Number.isFinite(it.us) ? (it.us - prevUs) / 1e6 : 0;
    prevUs = it.us;
    const from = colOf.get(addrHost(m.src));
    const to = colOf.get(addrHost(m.dst));
    const x1 = x(from);
    const x2 = x(to);
    const text = messageLabel(m);
    const index = n++;
    const retrans = it.copy ? `, retransmission ${it.copy} of ${it.orig.copies}` : (it.copies > 1 ? `, sent ${it.copies} times` : '');
    const legName = legs.length > 1 ? `, leg ${legLetter(it.leg)}` : '';
    const g = svg('g', {
      class: 'sip-arrow ' + arrowClass(m) + (it.copy ? ' retrans' : '') + (legs.length > 1 ? ' leg-' + (it.leg % 4) : ''),
      'data-index': index, 'data-leg': it.leg, role: 'listitem', tabindex: -1,
      'aria-label': `${clock(m.ts)} ${text} from ${m.src} to ${m.dst}${retrans}${legName}`,
    });
    tops.push(top);
    g.append(
      svg('text', { class: 'ts', x: 10, y: top + 17 }, clock(m.ts)),
      svg('text', { class: 'delta', x: 10, y: top + 32 }, `+${delta.toFixed(3)} s`));
    if (legs.length > 1) {
      g.append(
        svg('rect', { class: 'leg-stripe', x: 0, y: top + 2, width: 5, height: ROW_H - 4 }),
        svg('text', { class: 'leg-tag', x: TS_W - 14, y: top + 25, 'text-anchor': 'middle' }, legLetter(it.leg)));
    }
    let labelX;
    let anchor = 'middle';
    if (from === to) {
      // To itself (a proxy looping back, or port to port on one host): a
      // small loop on the right.
      g.append(
        svg('path', { class: 'shaft', d: `M${x1} ${yy - 9} h${LOOP_W - 10} v18 h${-(LOOP_W - 18)}` }),
        svg('polygon', { class: 'head', points: `${x1},${yy + 9} ${x1 + 9},${yy + 4.5} ${x1 + 9},${yy + 13.5}` }));
      labelX = x1 + LOOP_W - 4;
      anchor = 'start';
      g.append(svg('text', { class: 'label', x: labelX, y: yy + 4 }, text));
    } else {
      const dir = x2 > x1 ? 1 : -1;
      labelX = (x1 + x2) / 2;
      g.append(
        svg('line', { x1, y1: yy, x2: x2 - dir * 8, y2: yy }),
        svg('polygon', { class: 'head', points: `${x2},${yy} ${x2 - dir * 10},${yy - 5} ${x2 - dir * 10},${yy + 5}` }),
        svg('text', { class: 'label', x: labelX, y: yy - 7, 'text-anchor': anchor }, text));
    }
    // The count sits just past the label: "×3" on the first send, "2/3"
    // on each copy.
    if (it.copies > 1 || it.copy) {
      const lx = anchor === 'middle' ? labelX + text.length * 4.1 + 8 : labelX + text.length * 7.2 + 8;
      g.append(svg('text', { class: it.copy ? 'retrans-ordinal' : 'retrans-count', x: lx, y: (from === to ? yy + 4 : yy - 7) },
        it.copy ? `${it.copy}/${it.orig.copies}` : `×${it.copies}`));
    }
    frag.append(g);
    groups.push(g);
  }
  root.append(selBg, bands, frag);
  // One listener for every arrow rather than one closure per row.
  root.addEventListener('click', (ev) => {
    const g = ev.target.closest && ev.target.closest('.sip-arrow');
    if (g) selectMessage(Number(g.dataset.index), true);
  });
  const tBuilt = performance.now();
  performance.measure('ladder:build', { start: tLayout, end: tBuilt });
  container.replaceChildren(root);
  performance.measure('ladder:insert', { start: tBuilt, end: performance.now() });
  return { groups, tops, selBg };
}

const legLetter = (i) => String.fromCharCode(65 + i);

// rtpFigures is a stream's one-line summary on its ladder row.
function rtpFigures(st) {
  const s = st.s;
  const expected = s.expected > 0 ? s.expected : s.packets + Math.max(0, s.lost);
  const lossPct = expected > 0 ? (Math.max(0, s.lost) / expected) * 100 : 0;
  return `${s.payload || 'PT ' + s.payload_type} · ${s.packets} pkts · loss ${lossPct.toFixed(1)} %` +
    (s.mos > 0 ? ` · MOS ${s.mos.toFixed(2)}` : '') + (st.oneWay ? ' · one-way' : '');
}

// drawRTPRow draws a stream's row (a thick arrow with its figures) and
// its band from that row down to where the stream ended, with its RTCP
// and DTMF markers.
function drawRTPRow(r, colOf, x, width, lanes, bands, yAt, COL_W, TS_W, nLegs) {
  const st = r.rtp;
  const s = st.s;
  const a = colOf.get(addrHost(s.src));
  const b = colOf.get(addrHost(s.dst));
  const xa = x(a);
  const xb = x(b);
  const left = Math.min(xa, xb);
  const span = Math.max(Math.abs(xb - xa), COL_W * 0.5);
  const nLanes = lanes.get(st.pair) || 1;
  const laneW = span / nLanes;
  const bx = (xa === xb ? left - span / 2 : left) + st.lane * laneW + 3;
  const top = r.top + 4;
  const endY = Math.max(yAt(micros(s.end)), top + r.h);
  const cls = `rtp-band dir-${st.dir || 'unknown'}${st.oneWay ? ' one-way' : ''}`;
  const figures = st.text;
  bands.append(svg('rect', { class: cls, x: bx, y: top, width: Math.max(6, laneW - 6), height: endY - top, rx: 4,
    'data-ssrc': s.ssrc }));

  // RTCP: what the receiver reported about this stream, at its end.
  const rtcp = s.rtcp || {};
  if (rtcp.reports > 0) {
    const mx = bx + Math.max(6, laneW - 6) - 8;
    bands.append(svg('g', { class: 'rtcp-mark', 'data-ssrc': s.ssrc },
      svg('rect', { x: mx - 5, y: endY - 12, width: 10, height: 10, rx: 2 }),
      svg('text', { x: mx - 9, y: endY - 3, 'text-anchor': 'end' }, `RTCP ×${rtcp.reports}`),
      svg('title', null, `${rtcp.reports} RTCP reports: loss ${num(rtcp.fraction_lost_pct, 1)} % (max ${num(rtcp.max_fraction_lost_pct, 1)} %), ` +
        `jitter ${num(rtcp.jitter_ms, 1)} ms` + (rtcp.rtt_samples > 0 ? `, RTT ${num(rtcp.mean_rtt_ms, 1)} ms` : ''))));
  }
  for (const e of s.dtmf || []) {
    const dy = yAt(micros(e.start));
    const dx = bx + 10;
    bands.append(svg('g', { class: 'dtmf-band-mark' },
      svg('circle', { cx: dx, cy: dy, r: 7 }),
      svg('text', { x: dx, y: dy + 4, 'text-anchor': 'middle' }, e.digit),
      svg('title', null, `DTMF ${e.digit} at ${e.start}`)));
  }

  const y = r.top + r.h / 2 + 2;
  const dir = xb >= xa ? 1 : -1;
  const g = svg('g', {
    class: 'rtp-row ' + cls.replace('rtp-band', '').trim(), role: 'listitem', 'data-ssrc': s.ssrc,
    'aria-label': `RTP ${streamDirName(st.dir)} from ${s.src} to ${s.dst}, ${s.ssrc}, ${figures}, until ${clock(s.end)}`,
  });
  g.append(svg('text', { class: 'ts', x: 10, y: y + 4 }, clock(s.start)));
  if (nLegs > 1) g.append(svg('text', { class: 'leg-tag leg-' + (st.leg % 4), x: TS_W - 14, y: y + 4, 'text-anchor': 'middle' }, legLetter(st.leg)));
  if (xa !== xb) {
    g.append(
      svg('line', { class: 'rtp-shaft', x1: xa, y1: y, x2: xb - dir * 8, y2: y }),
      svg('polygon', { class: 'rtp-head', points: `${xb},${y} ${xb - dir * 10},${y - 6} ${xb - dir * 10},${y + 6}` }));
  }
  const tx = Math.min(xa, xb) + 12;
  g.append(
    svg('text', { class: 'rtp-label', x: tx, y: y - 5 },
      `RTP ${streamDirName(st.dir)} `, svg('tspan', { class: 'rtp-figures' }, '· ' + figures)),
    svg('title', null, `${s.src} → ${s.dst}  ${s.ssrc}\n${s.start} – ${s.end}`));
  return g;
}

function renderLegend(legs, withLegs) {
  const box = $('ladder-legs');
  if (!withLegs) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  box.replaceChildren(...legs.map((d, i) => el('span', { class: 'leg-chip leg-' + (i % 4), 'data-leg': i },
    el('span', { class: 'leg-swatch' }, legLetter(i)),
    i === 0 ? el('span', null, d.call.call_id) : el('a', { class: 'mono', href: callHash(d.call.call_id) }, d.call.call_id),
    el('span', { class: 'hint' }, i === 0 ? ' (this call)' : ` ${d.call.from_user || '?'} → ${d.call.to_user || '?'}`))));
  box.hidden = false;
}

// preselectFinal shows a failed call's final response at once: for a
// failure it is the message the user opened the call for.
function preselectFinal(c) {
  if (!(c.final_code >= 300) || !callView) return;
  let pick = -1;
  let fallback = -1;
  callView.msgs.forEach((it, i) => {
    const m = it.m;
    if (it.leg !== 0 || m.is_request) return;
    if (m.status_code === c.final_code && m.cseq_method === 'INVITE' && !it.copy) pick = i;
    if (m.status_code >= 300 && !it.copy) fallback = i;
  });
  const i = pick >= 0 ? pick : fallback;
  if (i >= 0) selectMessage(i, false);
}

function selectMessage(i, focus) {
  if (!callView || i < 0 || i >= callView.groups.length) return;
  if (callView.selected >= 0 && callView.groups[callView.selected]) {
    const old = callView.groups[callView.selected];
    old.classList.remove('selected');
    old.setAttribute('tabindex', '-1');
    old.removeAttribute('aria-current');
  }
  callView.selected = i;
  const g = callView.groups[i];
  g.classList.add('selected');
  g.setAttribute('tabindex', '0');
  g.setAttribute('aria-current', 'true');
  callView.selBg.setAttribute('y', callView.tops[i]);
  callView.selBg.setAttribute('visibility', 'visible');
  if (focus) g.focus({ preventScroll: true });
  // Only the flow scrolls: a failed call opening on its final response
  // must not push the diagnosis off the page.
  const box = $('ladder');
  const top = callView.tops[i];
  if (top < box.scrollTop + 60 || top + 40 > box.scrollTop + box.clientHeight) {
    box.scrollTop = Math.max(0, top - box.clientHeight / 2);
  }
  renderDetail(callView.msgs[i], i);
}

// renderDetail shows one message in full: start line, header names and
// body told apart by colour; line ends normalised to \n for display.
function renderDetail(it, i) {
  const m = it.m;
  const legs = callView && callView.legs.length > 1 && $('show-legs').checked;
  $('message-title').textContent = `#${i + 1}  ${messageLabel(m)}` + (legs ? `  (leg ${legLetter(it.leg)})` : '');
  const pre = $('message-detail');
  const meta = el('span', { class: 'meta' },
    `${m.ts}  ·  ${m.src} → ${m.dst}  ·  ${(m.transport || '').toUpperCase()}` +
    (m.cseq ? `  ·  CSeq ${m.cseq} ${m.cseq_method || ''}` : '') +
    (it.copy ? `  ·  retransmission ${it.copy} of ${it.orig.copies}` : ''));
  const raw = (m.raw || '').replace(/\r\n/g, '\n');
  const split = raw.indexOf('\n\n');
  const headText = split >= 0 ? raw.slice(0, split) : raw;
  const body = split >= 0 ? raw.slice(split + 2) : '';
  const lines = headText.split('\n');
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

// ---- Streams ---------------------------------------------------------------

function renderStreams(streams) {
  const rows = streams.map((s) => {
    const dir = (callView && callView.dirs.get(s)) || '';
    const expected = s.expected > 0 ? s.expected : s.packets + Math.max(0, s.lost);
    const lossPct = expected > 0 ? (Math.max(0, s.lost) / expected) * 100 : 0;
    const effLost = s.effective_lost || 0;
    const due = s.expected > 0 ? s.expected : s.packets + effLost;
    const effPct = due > 0 ? (Math.max(0, effLost) / due) * 100 : 0;
    const rtcp = s.rtcp || {};
    const rttTitle = s.rtt_ms > 0 && rtcp.rtt_samples > 0
      ? `RTCP round trip: mean of ${rtcp.rtt_samples}, latest ${num(rtcp.rtt_ms, 1)} ms, max ${num(rtcp.max_rtt_ms, 1)} ms`
      : (s.rtt_ms > 0 ? 'RTCP XR round trip delay' : 'no round trip reported');
    const reported = rtcp.reports > 0;
    return el('tr', { class: 'stream-row', 'data-direction': dir || 'unknown' },
      el('td', { class: 'dir dir-' + (dir || 'unknown') }, streamDirName(dir)),
      el('td', { class: 'mono' }, s.src),
      el('td', { class: 'mono' }, s.dst),
      el('td', { class: 'mono' }, s.ssrc),
      el('td', null, s.payload || String(s.payload_type)),
      el('td', { class: 'num' }, String(s.packets)),
      el('td', { class: 'num' + (s.lost > 0 ? ' code-err' : '') }, String(s.lost)),
      el('td', { class: 'num' + (lossPct > 0 ? ' code-err' : '') }, lossPct.toFixed(1) + ' %',
        reported ? el('span', { class: 'rtcp-sub', title: `latest of ${rtcp.reports} RTCP reports; worst ${num(rtcp.max_fraction_lost_pct, 1)} %, cumulative ${rtcp.cumulative_lost}` },
          `RTCP ${num(rtcp.fraction_lost_pct, 1)} %`) : null),
      el('td', { class: 'num' }, num(s.max_delta_ms, 2)),
      el('td', { class: 'num' }, num(s.mean_jitter_ms, 2),
        reported ? el('span', { class: 'rtcp-sub', title: `latest RTCP report; worst ${num(rtcp.max_jitter_ms, 1)} ms` },
          `RTCP ${num(rtcp.jitter_ms, 1)}`) : null),
      el('td', { class: 'num' }, num(s.max_jitter_ms, 2)),
      el('td', { class: 'num' + (s.late > 0 ? ' code-err' : '') }, String(s.late || 0)),
      el('td', { class: 'num' + (effPct > 0 ? ' code-err' : ''), title: `${effLost} sequence numbers missing or late` },
        effPct.toFixed(1) + ' %'),
      el('td', { class: 'num', title: s.jitter_buffer ? `${s.jitter_buffer} jitter buffer` : null },
        s.jitter_buffer ? num(s.jitter_buffer_ms, 1) : '—'),
      el('td', { class: 'num rtt', title: rttTitle }, s.rtt_ms > 0 ? num(s.rtt_ms, 1) : '—'),
      el('td', { class: 'num' }, s.r_factor > 0 ? num(s.r_factor, 1) : '—'),
      el('td', { class: 'num' }, mosBadge(s.mos)));
  });
  $('streams').tBodies[0].replaceChildren(...rows);
  $('streams-empty').hidden = rows.length > 0;
}

// ---- Audio -----------------------------------------------------------------

// renderAudio offers a player per direction that has a stream, and the
// stereo file (caller left, callee right), to those allowed to listen.
// preload=none: nothing is fetched (nor decoded on the server) until the
// user presses play. A direction whose streams are all in a codec the
// server does not decode gets a sentence instead of a control, and a
// player the server refuses anyway (media not stored, ...) is replaced by
// the server's reason: never a control that silently does nothing.
function renderAudio(detail, role) {
  const audible = detail.rtp_streams.filter((s) => s.payload !== 't38' && s.packets > 0);
  if (!callMayExport(role) || !audible.length) return;
  const enc = encodeURIComponent(detail.call.call_id);
  const dirOf = (s) => callView.dirs.get(s) || '';
  const have = new Set(audible.map(dirOf));
  const dirs = ['caller', 'callee'].filter((d) => have.has(d) || have.has(''));
  const players = dirs.map((d) => {
    const src = `${API}/calls/${enc}/audio?direction=${d}`;
    const streams = audible.filter((s) => dirOf(s) === d || dirOf(s) === '');
    const fig = el('figure', { class: 'audio-player', 'data-direction': d }, el('figcaption', null, streamDirName(d)));
    if (!streams.some(audioDecodable)) {
      const names = [...new Set(streams.map((s) => s.payload || 'payload type ' + s.payload_type))].sort();
      fig.append(audioRefusal(`Cannot play ${names.join(', ')} audio: only G.711 (PCMU, PCMA) is decoded.`));
      return fig;
    }
    const player = el('audio', { controls: '', preload: 'none', src, 'aria-label': 'audio ' + streamDirName(d) });
    player.addEventListener('error', () => explainAudioError(fig, player, src));
    fig.append(player);
    return fig;
  });
  players.push(el('a', { class: 'button', id: 'download-audio-both', href: `${API}/calls/${enc}/audio?direction=both`, download: '' },
    'Stereo WAV (caller left, callee right)'));
  $('audio-players').replaceChildren(...players);
  $('audio-panel').hidden = false;
}

// audioDecodable tells whether the server's audio route decodes a
// stream's codec: G.711 only (audio.CodecByName, audio.StaticCodec), by
// the name the stream carries or else its static payload type.
function audioDecodable(s) {
  const name = String(s.payload || '').toLowerCase();
  if (name) return ['pcmu', 'pcma', 'g711u', 'g711a'].includes(name);
  return s.payload_type === 0 || s.payload_type === 8;
}

function audioRefusal(text) {
  return el('p', { class: 'audio-refusal', role: 'status' }, text);
}

// explainAudioError replaces a player the browser could not play with the
// API's reason (415 codec, 409 media not stored, 404 none, 403 role). The
// media element's error carries no HTTP status or body, so the URL is
// asked once more; a refusal is a small JSON answer, and an answer that
// turns out to be audio is not read.
async function explainAudioError(fig, player, src) {
  if (!player.isConnected) return;
  let text = 'This browser could not play the audio file.';
  try {
    const ctl = new AbortController();
    const resp = await fetch(src, { signal: ctl.signal, headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    if (!resp.ok) {
      const body = await readBody(resp);
      const why = (body && body.error) || `the server answered HTTP ${resp.status}`;
      text = why.charAt(0).toUpperCase() + why.slice(1) + (/[.!]$/.test(why) ? '' : '.');
    } else {
      ctl.abort();
    }
  } catch (_) {
    text = 'The audio could not be fetched.';
  }
  if (!player.isConnected) return;
  player.replaceWith(audioRefusal(text));
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

// intervalShares splits an interval's loss the way the listener hears
// it: sequence numbers never heard (network loss) apart from packets that
// came too late for the jitter buffer, both over the packets due.
function intervalShares(iv) {
  const due = (iv.packets || 0) + Math.max(0, iv.lost || 0);
  if (!(due > 0)) return { loss: 0, late: 0 };
  return { loss: (Math.max(0, iv.lost || 0) / due) * 100, late: (Math.max(0, iv.late || 0) / due) * 100 };
}

// renderQuality draws one chart per stream that has a MOS timeline, all
// on the same time axis (seconds from the call's start) and the same loss
// axis, so that a drop in one direction lines up with the other, and
// lists the DTMF digits.
function renderQuality(call, streams) {
  const callUs = micros(call.start);
  const starts = streams.map((s) => micros(s.start)).filter(Number.isFinite);
  const originUs = Number.isFinite(callUs) ? callUs : (starts.length ? Math.min(...starts) : 0);
  const rel = (us) => (us - originUs) / 1e6;

  const withTimeline = streams.filter((s) => (s.mos_timeline || []).length > 0);
  let endSec = 0;
  let worst = 0;
  for (const s of withTimeline) {
    const off = rel(micros(s.start));
    for (const iv of s.mos_timeline) {
      endSec = Math.max(endSec, off + (iv.start_ms + iv.duration_ms) / 1000);
      const sh = intervalShares(iv);
      worst = Math.max(worst, sh.loss + sh.late);
    }
  }
  const callEnd = rel(micros(call.end));
  if (Number.isFinite(callEnd)) endSec = Math.max(endSec, callEnd);
  const lossMax = Math.max(5, Math.ceil(worst / 5) * 5);

  const dtmf = [];
  for (const s of streams) {
    for (const e of s.dtmf || []) dtmf.push({ e, s, t: rel(micros(e.start)) });
  }
  dtmf.sort((a, b) => a.t - b.t);

  // Drawn at the pixel size they are shown at, so 11 px text stays 11 px.
  const box = $('quality-charts');
  const W = Math.max(560, Math.floor((box.clientWidth || 988) - 28));
  const order = { caller: 0, callee: 1, '': 2 };
  const dirOf = (s) => (callView && callView.dirs.get(s)) || '';
  withTimeline.sort((a, b) => order[dirOf(a)] - order[dirOf(b)]);
  const charts = withTimeline.map((s) => drawMOSChart(s, rel, Math.max(endSec, 1), lossMax, W,
    dtmf.filter((d) => d.s === s), dirOf(s)));
  box.replaceChildren(...charts);
  $('quality-empty').hidden = charts.length > 0;
  renderDTMF(dtmf);
}

function drawMOSChart(s, rel, endSec, lossMax, W, dtmf, dir) {
  const H = 226;
  const L = 46;
  const R = 56;
  const T = 22;
  const B = 30;
  const pw = W - L - R;
  const ph = H - T - B;
  const x = (sec) => L + (Math.max(0, Math.min(sec, endSec)) / endSec) * pw;
  const y = (mos) => T + ((MOS_MAX - Math.max(MOS_MIN, Math.min(mos, MOS_MAX))) / (MOS_MAX - MOS_MIN)) * ph;
  const offset = rel(micros(s.start));
  const tl = s.mos_timeline;
  const yLoss = (pct) => T + ph - (Math.min(pct, lossMax) / lossMax) * ph;

  const root = svg('svg', {
    class: 'mos-chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, 'data-ssrc': s.ssrc,
    'data-direction': dir || 'unknown', 'data-loss-max': lossMax, role: 'img',
    'aria-label': `MOS, loss and late packets per interval, ${streamDirName(dir)}, stream ${s.ssrc} from ${s.src} to ${s.dst}`,
  });
  for (const b of BANDS) {
    root.append(svg('rect', { class: 'band ' + b.cls, x: L, y: y(b.to), width: pw, height: y(b.from) - y(b.to) }));
  }
  for (const m of [1, 2, 3, 3.6, 4, 4.5]) {
    root.append(
      svg('line', { class: 'grid-line', x1: L, x2: L + pw, y1: y(m), y2: y(m) }),
      svg('text', { class: 'axis-label', x: L - 6, y: y(m) + 4, 'text-anchor': 'end' }, m.toFixed(1)));
  }
  for (const pct of [0, lossMax / 2, lossMax]) {
    root.append(svg('text', { class: 'axis-label loss-axis', x: L + pw + 6, y: yLoss(pct) + 4 }, `${pct % 1 ? pct.toFixed(1) : pct} %`));
  }
  root.append(svg('text', { class: 'axis-label', x: L, y: T - 8, 'text-anchor': 'middle' }, 'MOS'));
  const step = niceStep(endSec, Math.max(4, Math.floor(pw / 80)));
  for (let t = 0; t <= endSec + 1e-9; t += step) {
    root.append(
      svg('line', { class: 'tick', x1: x(t), x2: x(t), y1: T + ph, y2: T + ph + 5 }),
      svg('text', { class: 'axis-label', x: x(t), y: H - 10, 'text-anchor': 'middle' }, tickLabel(t)));
  }

  // Loss bars first, so the MOS line stays on top; late packets are
  // stacked on the network loss in their own colour, never counted as it.
  const bars = svg('g', { class: 'loss-bars' });
  for (const iv of tl) {
    const sh = intervalShares(iv);
    if (!(sh.loss > 0) && !(sh.late > 0)) continue;
    const x0 = x(offset + iv.start_ms / 1000);
    const x1 = x(offset + (iv.start_ms + iv.duration_ms) / 1000);
    const w = Math.max(1, x1 - x0 - 1);
    const tip = `${num(sh.loss, 1)} % lost (${iv.lost} packets), ${num(sh.late, 1)} % late (${iv.late} packets) of ${iv.packets + iv.lost} due`;
    if (sh.loss > 0) {
      bars.append(svg('rect', { class: 'loss-bar', x: x0 + 0.5, y: yLoss(sh.loss), width: w, height: T + ph - yLoss(sh.loss),
        'data-pct': sh.loss.toFixed(2) }, svg('title', null, tip)));
    }
    if (sh.late > 0) {
      const base = yLoss(sh.loss);
      const topY = yLoss(sh.loss + sh.late);
      bars.append(svg('rect', { class: 'late-bar', x: x0 + 0.5, y: topY, width: w, height: base - topY,
        'data-pct': sh.late.toFixed(2) }, svg('title', null, tip)));
    }
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
    const sh = intervalShares(iv);
    const cls = iv.mos >= 4.0 ? 'good' : iv.mos >= 3.6 ? 'fair' : 'poor';
    points.append(svg('circle', { class: 'mos-point ' + cls, cx: px, cy: py, r: 3.5,
      'data-start': startSec.toFixed(3), 'data-mos': iv.mos.toFixed(2) },
    svg('title', null,
      `${startSec.toFixed(1)}–${(startSec + iv.duration_ms / 1000).toFixed(1)} s: MOS ${iv.mos.toFixed(2)}\n` +
      `lost ${num(sh.loss, 1)} % (${iv.lost}), late ${num(sh.late, 1)} % (${iv.late}) of ${iv.packets + iv.lost} due\n` +
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
      svg('text', { x: dx + 3, y: T + 12 }, d.e.digit),
      svg('title', null, `DTMF ${d.e.digit} at ${d.t.toFixed(3)} s`)));
  }
  root.append(svg('rect', { class: 'plot-frame', x: L, y: T, width: pw, height: ph }));

  // Measured and RTCP-reported figures side by side: they disagree when a
  // loss happened beyond the capture point (or the reporter is wrong).
  const rtcp = s.rtcp || {};
  const expected = s.expected > 0 ? s.expected : s.packets + Math.max(0, s.lost);
  const lossPct = expected > 0 ? (Math.max(0, s.lost) / expected) * 100 : 0;
  const latePct = expected > 0 ? ((s.late || 0) / expected) * 100 : 0;
  const fig = (cls, label, value, reported) => el('span', { class: 'fig ' + cls }, label + ' ', el('b', null, value),
    reported !== undefined ? el('span', { class: 'rtcp-fig' }, ` · RTCP ${reported}`) : null);
  const rep = rtcp.reports > 0;
  const caption = el('div', { class: 'chart-caption' },
    el('span', { class: 'dir-name dir-' + (dir || 'unknown') }, streamDirName(dir)),
    el('span', { class: 'mono' }, `${s.src} → ${s.dst}`),
    el('span', { class: 'mono hint' }, s.ssrc),
    el('span', null, s.payload || String(s.payload_type)),
    el('span', null, 'MOS ', mosBadge(s.mos)),
    fig('fig-loss', 'loss', lossPct.toFixed(1) + ' %', rep ? `${num(rtcp.fraction_lost_pct, 1)} % (max ${num(rtcp.max_fraction_lost_pct, 1)} %)` : undefined),
    fig('fig-late', 'late', latePct.toFixed(1) + ' %'),
    fig('fig-jitter', 'jitter', num(s.mean_jitter_ms, 1) + ' ms', rep ? `${num(rtcp.jitter_ms, 1)} ms` : undefined));
  return el('figure', { class: 'chart-box' }, caption, root);
}

function renderDTMF(events) {
  const items = events.map((d) => el('li', { class: 'dtmf-event' },
    el('span', { class: 'dtmf-time mono', title: d.e.start }, `+${d.t.toFixed(3)} s`),
    el('span', { class: 'dtmf-digit' }, d.e.digit),
    el('span', { class: 'dtmf-meta' },
      `${Math.round(d.e.duration_ms)} ms, −${d.e.volume} dBm0`),
    el('span', { class: 'dtmf-stream mono hint' }, `${streamDirName((callView && callView.dirs.get(d.s)) || '')} ${d.s.src} → ${d.s.dst}`)));
  $('dtmf').replaceChildren(...items);
  $('dtmf-empty').hidden = items.length > 0;
}

// initCall lets j/k and the arrow keys walk the ladder's messages, and
// the legs toggle redraw the flow.
function initCall() {
  $('ladder').addEventListener('keydown', (ev) => {
    if (!callView || !callView.groups.length) return;
    const last = callView.groups.length - 1;
    let to = -1;
    if (ev.key === 'ArrowDown' || ev.key === 'j') to = Math.min(last, callView.selected + 1);
    else if (ev.key === 'ArrowUp' || ev.key === 'k') to = Math.max(0, callView.selected - 1);
    else if (ev.key === 'Home') to = 0;
    else if (ev.key === 'End') to = last;
    if (to >= 0) {
      selectMessage(to, true);
      ev.preventDefault();
    }
  });
  $('show-legs').addEventListener('change', () => {
    try {
      localStorage.setItem(CALL_LEGS_KEY, $('show-legs').checked ? 'on' : 'off');
    } catch (_) {
      // Private mode: the choice lasts for this page only.
    }
    if (!callView) return;
    drawFlow();
    resetDetail();
  });
}
