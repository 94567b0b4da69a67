// spygroup console. Plain script, no framework, nothing loaded from elsewhere.
//
// It signs in (POST /console/session), then draws the floor from the REST API and
// keeps it current from the event stream (/api/v1/events): an event marks the part
// of the floor it touches as stale and that part is fetched again at once (at most
// one fetch in flight per part), so the view follows the switch without polling.
// The calls list is virtualised: only the rows in view exist in the page, so 500
// live calls cost what 15 do. What is offered follows the session: no button for
// a mode the grant lacks, no actions at all for a read session.
"use strict";

const ROW_H = 44;
const ALL_MODES = ["listen", "whisper", "barge", "takeover", "conference"];
const SWITCHABLE = ["listen", "whisper", "barge"];
// A supervisor's phone rings for at most 30 s (click-to-spy's limit).
const RING_GIVE_UP_MS = 40000;

const $ = (id) => document.getElementById(id);
const state = {
  me: null,          // GET /console/session
  calls: [],         // GET /api/v1/calls .calls
  shown: [],         // calls after the filters
  agents: [],
  queues: [],
  groups: [],
  spygrp: new Map(), // extension -> value of DB spygrp/<ext>
  mine: null,        // {monitor, call, target, mode, since} the signed-in supervisor's click-to-spy
  ws: null,
  clockSkew: 0,
};
// For the tests and the curious: how long drawing the calls took.
window.consoleStats = { renders: 0, lastRenderMs: 0, maxRenderMs: 0, lastEventAt: 0, lastDrawAt: 0 };

// ------------------------------------------------------------------ helpers

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

function notice(text, ok) {
  const n = $("notice");
  n.textContent = text;
  n.className = ok ? "ok" : "";
  n.hidden = !text;
  clearTimeout(notice.timer);
  if (text) notice.timer = setTimeout(() => { n.hidden = true; }, ok ? 4000 : 12000);
}

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
}

function when(ms) {
  return new Date(ms).toLocaleString();
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET" && state.me) headers["X-CSRF-Token"] = state.me.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (!r.ok) {
    const why = (data && data.error) || `${method} ${path}: HTTP ${r.status}`;
    if (r.status === 401 && state.me && !path.startsWith("/console/session")) signedOut(why);
    throw new ApiError(r.status, why);
  }
  return data;
}

// ------------------------------------------------------------------ sign-in

function showSignIn(message) {
  $("signin-view").hidden = false;
  $("floor-view").hidden = true;
  $("me").hidden = true;
  $("signin-error").textContent = message || "";
}

function signedOut(why) {
  state.me = null;
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  showSignIn(why);
}

async function signIn(ev) {
  ev.preventDefault();
  const how = document.querySelector("input[name=how]:checked").value;
  const body = how === "token"
    ? { token: $("in-token").value.trim() }
    : { extension: $("in-extension").value.trim(), secret: $("in-secret").value };
  $("signin-go").disabled = true;
  try {
    state.me = await api("POST", "/console/session", body);
    $("in-secret").value = ""; $("in-token").value = "";
    await enterFloor();
  } catch (e) {
    $("signin-error").textContent = e.message;
  } finally {
    $("signin-go").disabled = false;
  }
}

async function signOut() {
  if (state.mine) await stopMine();
  try { await api("DELETE", "/console/session"); } catch (e) { notice(e.message); }
  sessionStorage.removeItem("spygroup.mine");
  signedOut("Signed out.");
}

function may(mode) {
  return !!state.me && state.me.modes.includes(mode);
}

function isAdmin() { return !!state.me && state.me.scope === "admin"; }

/// The supervisor whose phone a click-to-spy rings: the session's own, or (admin)
/// the one typed in.
function ringSupervisor() {
  if (state.me.supervisor) return state.me.supervisor;
  return $("in-ring").value.trim();
}

async function enterFloor() {
  const me = state.me;
  $("signin-view").hidden = true;
  $("floor-view").hidden = false;
  $("me").hidden = false;
  $("who").textContent = me.who;
  $("scope").textContent = me.scope;
  $("ring-as").hidden = !(isAdmin() && !me.supervisor);
  // A browser leg is the session's own supervisor's: an admin rings a phone.
  $("hear-on").hidden = !(me.supervisor && me.modes.length && window.RTCPeerConnection);
  if ($("hear-on").hidden) $("in-hear").value = "phone";
  $("spygrp-section").hidden = false;
  const saved = sessionStorage.getItem("spygroup.mine");
  state.mine = saved ? JSON.parse(saved) : null;
  if (state.mine && state.mine.browser) {
    // Its audio went with the page that was reloaded: end the monitor too.
    api("DELETE", `/api/v1/monitors/${encodeURIComponent(state.mine.monitor)}`).catch(() => {});
    state.mine = null;
    saveMine();
  }
  connect();
  await Promise.all([refresh.calls(), refresh.agents(), refresh.groups(), refresh.audit()]);
}

// ------------------------------------------------------------------ live updates

/// One fetch in flight per part of the floor; an event during a fetch asks for one more.
function part(name, load) {
  let running = false, again = false;
  const run = async () => {
    if (running) { again = true; return; }
    running = true;
    try {
      do { again = false; await load(); } while (again);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) notice(e.message);
    } finally { running = false; }
  };
  run.partName = name;
  return run;
}

/// When the oldest event not yet on screen arrived, per part (0: none).
const pendingEvent = { calls: 0 };

/// How long an event took to reach the screen (for the tests: kept in consoleStats).
function drawnAfter(eventAt) {
  const ms = performance.now() - eventAt;
  const s = window.consoleStats;
  s.eventToDrawMs = (s.eventToDrawMs || []).concat([ms]).slice(-200);
}

const refresh = {
  calls: part("calls", async () => {
    const asked = pendingEvent.calls;
    pendingEvent.calls = 0;
    const data = await api("GET", "/api/v1/calls");
    state.calls = data.calls;
    followMine();
    drawCalls();
    drawMine();
    if (asked) drawnAfter(asked);
  }),
  agents: part("agents", async () => {
    const [agents, queues] = await Promise.all([api("GET", "/api/v1/agents"), api("GET", "/api/v1/queues")]);
    state.agents = agents; state.queues = queues;
    drawAgents(); drawQueues(); fillFilters();
  }),
  groups: part("groups", async () => {
    const [groups, kv] = await Promise.all([api("GET", "/api/v1/groups"), api("GET", "/api/v1/db?family=spygrp")]);
    state.groups = groups;
    state.spygrp = new Map(kv.filter((e) => e.family === "spygrp").map((e) => [e.key, e.value]));
    drawSpygrp(); fillFilters(); drawCalls();
  }),
  audit: part("audit", async () => { await searchAudit(); }),
};

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/events`);
  state.ws = ws;
  ws.onopen = () => { setLink(true); refresh.calls(); refresh.agents(); };
  ws.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (_) { return; }
    window.consoleStats.lastEventAt = performance.now();
    onEvent(ev);
  };
  ws.onclose = () => {
    setLink(false);
    if (state.ws !== ws || !state.me) return;
    // The session may have ended (signed out elsewhere, expired): ask, then retry.
    setTimeout(async () => {
      if (!state.me || state.ws !== ws) return;
      try { await api("GET", "/console/session"); connect(); } catch (e) { /* signedOut ran */ }
    }, 1000);
  };
}

function setLink(up) {
  const b = $("link");
  b.textContent = up ? "live" : "offline";
  b.className = "badge " + (up ? "on" : "off");
}

function onEvent(ev) {
  const t = ev.type || "";
  if (t === "lagged") { refresh.calls(); refresh.agents(); refresh.groups(); return; }
  if (t.startsWith("call.") || t.startsWith("monitor.") || t.startsWith("conference.")) {
    if (!pendingEvent.calls) pendingEvent.calls = performance.now();
    refresh.calls();
  }
  if (t === "agent.state" || t === "queue.log" || t === "call.end" || t === "call.answer") refresh.agents();
  if (t.startsWith("monitor.")) refresh.audit();
  if (t === "monitor.start" && state.mine && ev.monitor === state.mine.monitor) {
    state.mine.session = ev.session;
    state.mine.since = ev.at;
    saveMine();
  }
  if (t === "monitor.denied" && state.mine && ev.supervisor === ringSupervisor()) {
    notice(`Refused: ${ev.reason}`);
  }
}

// ------------------------------------------------------------------ the calls

function partiesOf(call) {
  return call.channels.filter((c) => !c.in_chanspy || call.channels.length === 1);
}

function direction(call) {
  const trunk = call.channels.find((c) => c.trunk);
  if (!trunk) return call.channels.some((c) => c.in_chanspy || c.spying) ? "supervisor" : "internal";
  return trunk.role === "caller" ? "inbound" : "outbound";
}

function groupsOf(call) {
  const set = new Set();
  for (const c of call.channels) for (const g of (c.spygroup || "").split(":")) if (g) set.add(g);
  return [...set].sort();
}

function matches(call) {
  const g = $("f-group").value, q = $("f-queue").value, a = $("f-agent").value.trim();
  if (g && !groupsOf(call).includes(g)) return false;
  if (q && !call.channels.some((c) => c.queue === q)) return false;
  if (a && !call.channels.some((c) => c.endpoint.startsWith(a) || (c.number || "").startsWith(a))) return false;
  return true;
}

/// A call the page may act on: one with a party that is no supervisor's own leg.
function targetOf(call) {
  return call.channels.find((c) => !c.spying && !c.in_chanspy && !c.trunk) ||
         call.channels.find((c) => !c.spying && !c.in_chanspy);
}

function drawCalls() {
  const t0 = performance.now();
  state.shown = state.calls.filter(matches);
  $("calls-count").textContent = String(state.shown.length);
  $("calls-empty").hidden = state.shown.length > 0;
  $("calls-spacer").style.height = state.shown.length * ROW_H + "px";
  // As tall as its calls, up to a screenful; it scrolls beyond that.
  $("calls").style.height = Math.min(Math.max(window.innerHeight * 0.6, 2 * ROW_H),
    Math.max(ROW_H, state.shown.length * ROW_H)) + "px";
  drawRows();
  const dt = performance.now() - t0;
  const s = window.consoleStats;
  s.renders += 1; s.lastRenderMs = dt; s.maxRenderMs = Math.max(s.maxRenderMs, dt);
  s.lastDrawAt = performance.now();
}

/// Only the rows in view (and a few beyond) exist in the page.
function drawRows() {
  const box = $("calls");
  const first = Math.max(0, Math.floor(box.scrollTop / ROW_H) - 5);
  const last = Math.min(state.shown.length, Math.ceil((box.scrollTop + box.clientHeight) / ROW_H) + 5);
  const keep = new Map();
  for (const row of [...box.querySelectorAll(".row")]) keep.set(row.dataset.call, row);
  const wanted = new Set();
  for (let i = first; i < last; i++) {
    const call = state.shown[i];
    wanted.add(call.id);
    const row = callRow(call);
    row.style.top = i * ROW_H + "px";
    const old = keep.get(call.id);
    if (old) old.replaceWith(row); else box.append(row);
  }
  for (const [id, row] of keep) if (!wanted.has(id)) row.remove();
}

function callRow(call) {
  const now = Date.now();
  const parties = partiesOf(call);
  const started = Math.min(...call.channels.map((c) => c.started_at));
  const mine = state.mine && state.mine.call === call.id;
  const monitors = call.monitored_by.map((m) => el("div", {},
    el("span", { class: "party" }, m.endpoint), " ",
    el("span", { class: "mode " + (m.spying ? m.spying.mode : "") }, m.spying ? m.spying.mode : "?"), " ",
    el("span", { class: "timer", dataset: { since: m.spying ? m.spying.since : m.started_at } },
      clock(now - (m.spying ? m.spying.since : m.started_at)))));
  const target = targetOf(call);
  const actions = el("span", { class: "c-act" });
  if (target && state.me.modes.length) {
    // A conference needs the supervisor's phone (the API refuses it for a browser).
    const inBrowser = $("in-hear").value === "browser";
    for (const mode of ALL_MODES.filter(may).filter((m) => !(inBrowser && m === "conference"))) {
      actions.append(el("button", {
        type: "button", class: "act-" + mode, "data-mode": mode, disabled: !!state.mine,
        title: `${mode} on ${target.endpoint}`,
        onclick: () => startMonitor(call, target, mode),
      }, mode[0].toUpperCase() + mode.slice(1)));
    }
  }
  actions.append(el("button", { type: "button", class: "small", onclick: () => timeline(call) }, "timeline"));
  return el("div", { class: "row" + (mine ? " mine" : ""), dataset: { call: call.id }, role: "row" },
    el("span", { class: "c-parties" },
      el("div", {}, parties.map((c, i) => [i ? " \u2192 " : "",
        el("span", { class: "party", title: c.trunk ? `from trunk ${c.endpoint}` : "" }, c.number || c.endpoint)])),
      el("div", { class: "chan" }, parties.map((c) => c.name).join("  \u00b7  "))),
    el("span", { class: "c-dir" }, direction(call)),
    el("span", { class: "c-dur timer", dataset: { since: started } }, clock(now - started)),
    el("span", { class: "c-groups" }, groupsOf(call).join(", ") || "\u2013"),
    el("span", { class: "c-mon" }, monitors.length ? monitors : "\u2013"),
    actions);
}

async function startMonitor(call, target, mode) {
  const supervisor = ringSupervisor();
  if (!supervisor) { notice("Type the supervisor extension whose phone should ring."); return; }
  if (state.mine) { notice("Stop your running session first."); return; }
  if ($("in-hear").value === "browser") return startBrowserMonitor(call, target, mode, supervisor);
  try {
    const r = await api("POST", `/api/v1/calls/${encodeURIComponent(call.id)}/monitor`, { supervisor, mode });
    state.mine = { monitor: r.id, call: call.id, target: target.endpoint, mode, since: Date.now(), supervisor };
    saveMine();
    notice(`${mode} on ${target.endpoint}: your phone (${supervisor}) rings; answer it to hear the call.`, true);
    drawMine(); drawCalls();
  } catch (e) {
    notice(`Refused: ${e.message}`);
  }
}

// ------------------------------------------------------------------ listening in the browser

/// What the browser hears, measured in the page (for the tests and a level meter).
window.consoleAudio = {
  analyser: null, frames: [],
  /// Mean level (dB) at each frequency over the last `ms` milliseconds.
  levels(freqs, ms) {
    const since = performance.now() - ms;
    const recent = this.frames.filter((f) => f.t >= since);
    const out = {};
    for (const f of freqs) {
      const v = recent.map((r) => r.at(f));
      out[f] = v.length ? v.reduce((a, b) => a + b, 0) / v.length : -200;
    }
    return out;
  },
};

function hear(stream) {
  const audioEl = $("mine-audio");
  audioEl.srcObject = stream; // Chromium feeds WebAudio from a remote stream only while it plays
  audioEl.play().catch(() => {});
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 4096;
  analyser.smoothingTimeConstant = 0;
  source.connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const hz = ctx.sampleRate / analyser.fftSize;
  const ca = window.consoleAudio;
  ca.analyser = analyser; ca.frames = []; ca.ctx = ctx;
  clearInterval(ca.timer);
  ca.timer = setInterval(() => {
    analyser.getFloatFrequencyData(bins);
    const copy = Float32Array.from(bins);
    // The strongest bin within 20 Hz of the frequency.
    const at = (f) => {
      const lo = Math.max(0, Math.floor((f - 20) / hz)), hi = Math.ceil((f + 20) / hz);
      let best = -200;
      for (let i = lo; i <= hi && i < copy.length; i++) best = Math.max(best, copy[i]);
      return best;
    };
    ca.frames.push({ t: performance.now(), at });
    if (ca.frames.length > 200) ca.frames.shift();
  }, 50);
}

/// The supervisor's microphone goes out only where the mode lets a party hear it.
function setMic(mode) {
  const talking = mode !== "listen";
  for (const t of state.mic ? state.mic.getAudioTracks() : []) t.enabled = talking;
  $("mine-mic").textContent = !state.mic ? "(no microphone: listen only)" :
    talking ? "microphone on" : "microphone muted";
}

function waitIceGathering(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(done, ms);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") { clearTimeout(timer); done(); }
    });
  });
}

async function startBrowserMonitor(call, target, mode, supervisor) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  let mic = null;
  try {
    // Echo cancellation for a supervisor on speakers; no noise suppression, which
    // takes steady sounds (a hum, a held vowel, a test tone) for noise.
    mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    notice(`No microphone (${e.message}): listening only.`, true);
  }
  if (mic) for (const t of mic.getAudioTracks()) pc.addTrack(t, mic);
  else pc.addTransceiver("audio", { direction: "recvonly" });
  pc.ontrack = (ev) => hear(ev.streams[0] || new MediaStream([ev.track]));
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await waitIceGathering(pc, 2000);
    const r = await api("POST", `/api/v1/calls/${encodeURIComponent(call.id)}/monitor`,
      { supervisor, mode, webrtc: { offer: pc.localDescription.sdp } });
    await pc.setRemoteDescription({ type: "answer", sdp: r.answer });
    state.pc = pc; state.mic = mic;
    window.consoleAudio.codec = answerCodec(r.answer);
    pc.onconnectionstatechange = () => {
      if (["failed", "closed"].includes(pc.connectionState) && state.pc === pc) {
        notice("The browser's audio connection to the PBX was lost.");
      }
    };
    state.mine = { monitor: r.id, call: call.id, target: target.endpoint, mode, since: Date.now(), supervisor, browser: true };
    saveMine();
    setMic(mode);
    notice(`${mode} on ${target.endpoint}, in this browser.`, true);
    drawMine(); drawCalls();
  } catch (e) {
    pc.close();
    if (mic) for (const t of mic.getTracks()) t.stop();
    notice(`Refused: ${e.message}`);
  }
}

/// The codec the answer puts first on its audio line (what the browser sends).
function answerCodec(sdp) {
  const m = /^m=audio \S+ \S+ (\d+)/m.exec(sdp);
  if (!m) return "";
  const rtpmap = new RegExp(`^a=rtpmap:${m[1]} ([^/\\s]+)`, "m").exec(sdp);
  return rtpmap ? rtpmap[1] : m[1] === "0" ? "PCMU" : "";
}

function closeBrowserLeg() {
  if (state.pc) { state.pc.close(); state.pc = null; }
  if (state.mic) { for (const t of state.mic.getTracks()) t.stop(); state.mic = null; }
  const ca = window.consoleAudio;
  clearInterval(ca.timer);
  if (ca.ctx) { ca.ctx.close(); ca.ctx = null; }
  $("mine-audio").srcObject = null;
}

// ------------------------------------------------------------------ my session

function saveMine() {
  if (state.mine) sessionStorage.setItem("spygroup.mine", JSON.stringify(state.mine));
  else sessionStorage.removeItem("spygroup.mine");
}

/// Finds the signed-in supervisor's monitoring leg on the floor: its mode and
/// times come from the switch, not from what was clicked.
function mySpyLeg() {
  const sup = state.mine ? state.mine.supervisor : state.me && state.me.supervisor;
  if (!sup) return null;
  for (const call of state.calls) {
    for (const m of call.monitored_by) if (m.endpoint === sup && m.spying) return { call, leg: m };
  }
  return null;
}

function followMine() {
  if (!state.mine) return;
  const found = mySpyLeg();
  if (found) {
    state.mine.live = true;
    state.mine.call = found.call.id;
    state.mine.mode = found.leg.spying.mode;
    state.mine.since = found.leg.spying.since;
    state.mine.session = found.leg.spying.session;
    if (state.mine.browser) setMic(state.mine.mode);
    saveMine();
  } else if (state.mine.live || (state.mine.browser && !state.pc) ||
             Date.now() - state.mine.since > RING_GIVE_UP_MS) {
    // It ran and is gone: the supervisor hung up or the call ended (or this page
    // was reloaded, and its browser leg with it).
    state.mine = null;
    saveMine();
    closeBrowserLeg();
  }
}

function drawMine() {
  const m = state.mine;
  $("mine").hidden = !m;
  if (!m) return;
  const codec = m.browser && window.consoleAudio.codec ? ` (${window.consoleAudio.codec})` : "";
  $("mine-what").textContent = m.live ? `Monitoring ${m.target}${m.browser ? " in this browser" + codec : ""}`
    : m.browser ? `Connecting to ${m.target}\u2026` : `Ringing your phone for ${m.target}\u2026`;
  $("mine-mode").textContent = m.mode;
  $("mine-mode").className = "mode " + m.mode;
  $("mine-timer").dataset.since = m.since;
  const box = $("mine-modes");
  box.replaceChildren(...SWITCHABLE.filter(may).map((mode) => el("button", {
    type: "button", class: "act-" + mode, "aria-pressed": String(mode === m.mode), "data-mode": mode,
    disabled: !m.live, onclick: () => switchMode(mode),
  }, mode[0].toUpperCase() + mode.slice(1))));
}

async function switchMode(mode) {
  try {
    await api("PATCH", `/api/v1/monitors/${encodeURIComponent(state.mine.monitor)}`, { mode });
    state.mine.mode = mode; saveMine(); setMic(mode); drawMine();
  } catch (e) {
    notice(`Refused: ${e.message}`);
  }
}

async function stopMine() {
  const m = state.mine;
  if (!m) return;
  try {
    await api("DELETE", `/api/v1/monitors/${encodeURIComponent(m.monitor)}`);
  } catch (e) {
    if (e.status !== 404) { notice(`Refused: ${e.message}`); return; }
  }
  state.mine = null; saveMine(); closeBrowserLeg(); drawMine(); drawCalls();
}

// ------------------------------------------------------------------ agents, queues, groups

function fillFilters() {
  const fill = (sel, names) => {
    const cur = sel.value;
    sel.replaceChildren(el("option", { value: "" }, "all"), ...names.map((n) => el("option", { value: n }, n)));
    sel.value = names.includes(cur) ? cur : "";
  };
  fill($("f-group"), state.groups.map((g) => g.name));
  fill($("f-queue"), state.queues.map((q) => q.settings.name));
}

function drawAgents() {
  $("agents").replaceChildren(...state.agents.map((a) => el("tr", {},
    el("td", {}, a.extension),
    el("td", { class: "state-" + (a.state || "") }, (a.state || "unknown").replace("_", " ") + (a.paused && a.reason ? ` (${a.reason})` : "")),
    el("td", {}, a.queues.join(", ")),
    el("td", {}, String(a.calls_taken)))));
  if (!state.agents.length) $("agents").append(el("tr", {}, el("td", { colspan: 4, class: "empty" }, "No agents.")));
}

function drawQueues() {
  $("queues").replaceChildren(...state.queues.map((q) => {
    const live = q.live || { waiting: [], longest_wait_secs: 0 };
    return el("tr", {},
      el("td", {}, q.settings.name),
      el("td", {}, String(live.waiting.length)),
      live.waiting.length
        ? el("td", { class: "timer", dataset: { since: Math.min(...live.waiting.map((w) => w.since_ms)) } },
            clock(live.longest_wait_secs * 1000))
        : el("td", {}, "\u2013"),
      el("td", {}, String(q.members.length)));
  }));
  if (!state.queues.length) $("queues").append(el("tr", {}, el("td", { colspan: 4, class: "empty" }, "No queues.")));
}

function drawSpygrp() {
  const members = new Map();
  for (const g of state.groups) for (const m of g.members) {
    if (!members.has(m)) members.set(m, []);
    members.get(m).push(g.name);
  }
  const rows = [...members.keys()].sort().map((ext) => {
    const on = state.spygrp.has(ext);
    const cell = isAdmin()
      ? el("button", { type: "button", "aria-pressed": String(on), "data-ext": ext,
          onclick: () => toggleSpygrp(ext, !on) }, on ? "on (7791)" : "off (7792)")
      : (on ? "on (7791)" : "off (7792)");
    return el("tr", {}, el("td", {}, ext), el("td", {}, members.get(ext).join(", ")), el("td", {}, cell));
  });
  $("spygrp").replaceChildren(...rows);
  if (!rows.length) $("spygrp").append(el("tr", {}, el("td", { colspan: 3, class: "empty" }, "No spy groups.")));
}

async function toggleSpygrp(ext, on) {
  try {
    if (on) await api("PUT", `/api/v1/db/spygrp/${encodeURIComponent(ext)}`, { value: "spyon" });
    else await api("DELETE", `/api/v1/db/spygrp/${encodeURIComponent(ext)}`);
    await refresh.groups();
  } catch (e) {
    notice(`Refused: ${e.message}`);
  }
}

// ------------------------------------------------------------------ audit, timeline

function auditQuery() {
  const p = new URLSearchParams({ limit: "100" });
  const sup = $("a-supervisor").value.trim(), tgt = $("a-target").value.trim();
  if (sup) p.set("supervisor", sup);
  if (tgt) p.set("target", tgt);
  const since = $("a-since").value, until = $("a-until").value;
  if (since) p.set("since", String(new Date(since).getTime()));
  if (until) p.set("until", String(new Date(until).getTime()));
  return p.toString();
}

async function searchAudit(ev) {
  if (ev) ev.preventDefault();
  let list;
  try { list = await api("GET", "/api/v1/audit?" + auditQuery()); } catch (e) {
    if (ev) notice(e.message);
    if (ev) return; else throw e;
  }
  $("audit").replaceChildren(...list.map((r) => el("tr", { class: "clickable", title: "its timeline",
      onclick: () => showTimeline(`session ${r.id}`, sessionEvents([r])) },
    el("td", {}, when(r.started_at)),
    el("td", {}, r.supervisor),
    el("td", {}, `${r.target_endpoint} `, el("span", { class: "chan" }, r.target_channel)),
    el("td", { class: "mode " + r.mode }, modesOf(r).join(" \u2192 ")),
    el("td", {}, r.outcome + (r.end_reason ? ` (${r.end_reason})` : "")),
    el("td", { class: "timer" }, r.ended_at ? clock(r.ended_at - r.started_at) : "running"))));
  if (!list.length) $("audit").append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "Nothing matches.")));
}

/// The modes a session went through, in order.
function modesOf(r) {
  return [r.mode, ...(r.events || []).filter((e) => e.kind === "mode").map((e) => e.detail)];
}

function sessionEvents(sessions) {
  const out = [];
  for (const r of sessions) {
    const denied = r.outcome === "denied";
    out.push({ at: r.started_at, text: denied
      ? `${r.supervisor} was refused ${r.mode} on ${r.target_channel}${r.end_reason ? ": " + r.end_reason : ""}`
      : `${r.supervisor} joined ${r.target_channel} in ${r.mode}` });
    for (const e of r.events || []) {
      if (e.kind === "mode") out.push({ at: e.at, text: `${r.supervisor} switched to ${e.detail}` });
    }
    if (r.ended_at && !denied) out.push({ at: r.ended_at, text: `${r.supervisor} left${r.end_reason ? " (" + r.end_reason + ")" : ""}` });
  }
  return out.sort((a, b) => a.at - b.at);
}

async function timeline(call) {
  const items = call.channels.map((c) => ({ at: c.started_at, text: `${c.endpoint} (${c.role}) on ${c.name}` }));
  try {
    const lists = await Promise.all(call.channels.map((c) =>
      api("GET", "/api/v1/audit?limit=100&target=" + encodeURIComponent(c.name))));
    items.push(...sessionEvents(lists.flat()));
  } catch (e) { notice(e.message); }
  showTimeline(call.id, items.sort((a, b) => a.at - b.at));
}

function showTimeline(title, items) {
  $("timeline-section").hidden = false;
  $("timeline-call").textContent = title;
  $("timeline").replaceChildren(...items.map((i) => el("li", {}, el("span", { class: "mono" }, new Date(i.at).toLocaleTimeString()), " ", i.text)));
}

// ------------------------------------------------------------------ start

function tick() {
  const now = Date.now();
  for (const t of document.querySelectorAll(".timer[data-since]")) {
    const since = Number(t.dataset.since);
    if (since) t.textContent = clock(now - since);
  }
}

async function start() {
  $("signin").addEventListener("submit", signIn);
  for (const r of document.querySelectorAll("input[name=how]")) {
    r.addEventListener("change", () => {
      const token = document.querySelector("input[name=how]:checked").value === "token";
      document.querySelector(".by-token").hidden = !token;
      document.querySelector(".by-extension").hidden = token;
    });
  }
  $("signout").addEventListener("click", signOut);
  $("mine-stop").addEventListener("click", stopMine);
  $("calls").addEventListener("scroll", () => requestAnimationFrame(drawRows));
  for (const f of ["f-group", "f-queue", "f-agent", "in-hear"]) $(f).addEventListener("input", drawCalls);
  $("audit-search").addEventListener("submit", searchAudit);
  $("timeline-close").addEventListener("click", () => { $("timeline-section").hidden = true; });
  setInterval(tick, 1000);
  try {
    state.me = await api("GET", "/console/session");
    await enterFloor();
  } catch (_) {
    showSignIn("");
  }
}

document.addEventListener("DOMContentLoaded", start);
