// Tandem bed board. Plain JavaScript, no build step: signs a housing agent in
// with PocketBase's auth-with-password, then reads and changes counts and
// holds through the agency API at /api/beds/v1. Everything shown comes from
// the server's answer; nothing is computed here but the ages.
"use strict";

const API = "/api/beds/v1";
const TOKEN_KEY = "tandem.bedboard.token";
const NAME_KEY = "tandem.bedboard.name";
const REFRESH_MS = 30000;

const $ = (sel, root = document) => root.querySelector(sel);
let programs = [];
let serverSkewMs = 0; // server clock minus this browser's clock
let refreshTimer = null;

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: Object.assign({ "Authorization": token() }, body ? { "Content-Type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  let data = {};
  try { data = await res.json(); } catch (_) { /* empty or not JSON */ }
  if (res.status === 401) { signOut("Your session ended. Please sign in again."); }
  if (!res.ok) {
    const err = new Error(data.message || ("The hub answered " + res.status + "."));
    err.code = data.code || (data.data && data.data.code) || "";
    err.status = res.status;
    err.data = data.data || {};
    throw err;
  }
  return data;
}

// ago turns seconds into words a person reads at a glance.
function ago(seconds) {
  if (seconds < 60) return "just now";
  const min = Math.floor(seconds / 60);
  if (min < 60) return min + " min ago";
  const h = Math.floor(min / 60);
  if (h < 48) return h + " h " + (min % 60) + " min ago";
  return Math.floor(h / 24) + " days ago";
}

function secondsSince(iso) {
  if (!iso) return null;
  return Math.max(0, Math.floor((Date.now() + serverSkewMs - Date.parse(iso)) / 1000));
}

async function signIn(ev) {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    const res = await fetch("/api/collections/users/auth-with-password", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ identity: $("#email").value.trim(), password: $("#password").value }),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(res.status === 400 ? "Email or password is not right." : (data.message || "Sign-in failed."));
    sessionStorage.setItem(TOKEN_KEY, data.token);
    sessionStorage.setItem(NAME_KEY, (data.record && (data.record.name || data.record.email)) || "");
    $("#password").value = "";
    await showBoard();
  } catch (err) {
    $("#login-error").textContent = err.message;
  }
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(NAME_KEY);
  clearInterval(refreshTimer);
  $("#board").hidden = true;
  $("#session").hidden = true;
  $("#login-section").hidden = false;
  $("#login-error").textContent = typeof message === "string" ? message : "";
}

async function showBoard() {
  $("#login-section").hidden = true;
  $("#board").hidden = false;
  $("#session").hidden = false;
  $("#who").textContent = sessionStorage.getItem(NAME_KEY) || "";
  await load();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => { if (!editing()) load().catch(() => {}); }, REFRESH_MS);
}

async function load() {
  try {
    const data = await api("GET", API + "/programs");
    serverSkewMs = Date.parse(data.server_time) - Date.now();
    programs = data.programs;
    render();
    $("#status-line").textContent = "Loaded " + new Date().toLocaleTimeString() + ". " +
      (programs.length ? "" : "Your agency has no bed programmes on this hub yet.");
    document.body.dataset.loaded = String(Date.now());
  } catch (err) {
    $("#status-line").textContent = err.message;
  }
}

function render() {
  const root = $("#programs");
  root.replaceChildren(...programs.map(renderProgram));
}

function renderProgram(p) {
  const node = $("#program-template").content.firstElementChild.cloneNode(true);
  node.dataset.id = p.id;
  $(".name", node).textContent = p.name;
  $(".shelter", node).textContent = p.shelter_name;
  const state = $(".state", node);
  state.textContent = p.status === "closed" ? "Closed" : (!p.accepting ? "Not taking guests" : (p.available > 0 ? "Taking guests" : "Full"));
  state.classList.toggle("closed", p.status === "closed" || !p.accepting);
  state.classList.toggle("full", p.status !== "closed" && p.accepting && p.available <= 0);
  $(".available", node).textContent = String(p.available);
  $(".formula", node).textContent = p.total_beds + " total − " + p.occupied + " occupied − " +
    p.out_of_service + " out of service − " + p.active_holds + " held";
  const age = secondsSince(p.counts_updated_at);
  const ageEl = $(".age", node);
  ageEl.textContent = "Counts confirmed " + (age === null ? "never" : ago(age)) + (p.counts_updated_by ? " by " + p.counts_updated_by : "");
  ageEl.classList.toggle("stale", age === null || age > 4 * 3600);

  const form = $(".counts", node);
  for (const f of ["total_beds", "occupied", "out_of_service"]) $("." + f, form).value = p[f];
  $(".accepting", form).checked = p.accepting;
  $(".occ-minus", form).addEventListener("click", () => step(form, -1));
  $(".occ-plus", form).addEventListener("click", () => step(form, +1));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); saveCounts(p, form, false); });
  $(".force", form).addEventListener("click", () => saveCounts(p, form, true));

  const list = $(".holds", node);
  if (!p.holds.length) {
    const li = document.createElement("li");
    li.className = "none muted";
    li.textContent = "No beds held right now.";
    list.append(li);
  }
  for (const h of p.holds) list.append(renderHold(p, h));
  return node;
}

function renderHold(p, h) {
  const li = document.createElement("li");
  li.className = "hold";
  li.dataset.id = h.id;
  const text = document.createElement("span");
  text.className = "what";
  const left = h.minutes_remaining > 0 ? h.minutes_remaining + " min left" : "running out";
  text.textContent = "Held for " + (h.team_name || "an outreach team") + " · " + ago(secondsSince(h.decided_at) || 0) + " · " + left;
  const actions = document.createElement("span");
  actions.className = "actions";
  const arrived = document.createElement("button");
  arrived.type = "button";
  arrived.className = "arrived";
  arrived.textContent = "Arrived";
  arrived.addEventListener("click", () => outcome(p, h, "arrived", li));
  const noShow = document.createElement("button");
  noShow.type = "button";
  noShow.className = "noshow";
  noShow.textContent = "No-show";
  noShow.addEventListener("click", () => outcome(p, h, "no-show", li));
  actions.append(arrived, noShow);
  li.append(text, actions);
  return li;
}

// editing reports whether the agent is typing a count: background refreshes
// wait so they never overwrite what is being typed.
function editing() {
  const a = document.activeElement;
  return !!(a && a.closest && a.closest(".counts") && a.tagName === "INPUT");
}

function step(form, delta) {
  const input = $(".occupied", form);
  input.value = String(Math.max(0, (parseInt(input.value, 10) || 0) + delta));
}

async function saveCounts(p, form, force) {
  const err = $(".error", form);
  const forceBtn = $(".force", form);
  err.textContent = "";
  forceBtn.hidden = true;
  const body = { accepting: $(".accepting", form).checked };
  for (const f of ["total_beds", "occupied", "out_of_service"]) {
    const v = $("." + f, form).value.trim();
    if (!/^\d+$/.test(v)) { err.textContent = "Counts are whole numbers from 0 up."; return; }
    if (Number(v) !== p[f]) body[f] = Number(v);
  }
  if (force) body.force = true;
  try {
    const updated = await api("PATCH", API + "/programs/" + encodeURIComponent(p.id) + "/counts", body);
    replaceProgram(updated);
    const card = document.querySelector('.program[data-id="' + CSS.escape(p.id) + '"]');
    if (card) $(".saved", card).textContent = "Saved at " + new Date().toLocaleTimeString() + ".";
  } catch (e) {
    err.textContent = e.message;
    if (e.code === "beds_availability_negative" && e.data.active_holds > 0) forceBtn.hidden = false;
  }
}

async function outcome(p, h, what, li) {
  li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    const res = await api("POST", API + "/programs/" + encodeURIComponent(p.id) + "/holds/" + encodeURIComponent(h.id) + "/" + what);
    replaceProgram(res.program);
  } catch (e) {
    li.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    const msg = document.createElement("p");
    msg.className = "error";
    msg.textContent = e.message;
    li.append(msg);
  }
}

function replaceProgram(updated) {
  programs = programs.map((x) => (x.id === updated.id ? updated : x));
  render();
  document.body.dataset.loaded = String(Date.now());
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login").addEventListener("submit", signIn);
  $("#signout").addEventListener("click", () => signOut());
  $("#refresh").addEventListener("click", () => load());
  // Ages move on even when nothing else does.
  setInterval(() => { if (token() && programs.length && !editing()) render(); }, 60000);
  if (token()) showBoard(); else signOut();
});
