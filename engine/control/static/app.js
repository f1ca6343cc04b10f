// Persona control page: scene buttons, privacy switches and live status over the local API.
// Plain script, no build step; strings come from i18n/<lang>.json. Without a token (a tablet
// opening the tablet remote's address) the page asks for the pairing code instead.
"use strict";

const params = new URLSearchParams(location.search);
let token = params.get("token") || sessionStorage.getItem("persona-token") || "";
if (params.get("token")) {
  sessionStorage.setItem("persona-token", token);
  history.replaceState(null, "", location.pathname);  // keep the token out of sight and history
}

let strings = {};
let fallback = {};
let status = {};
let sceneSignature = "";
let lastRefusal = null;
// Command names and status fields, from the engine's own vocabulary (/api/vocabulary).
let vocabulary = {commands: [], switches: []};

function t(key, values = {}) {
  const text = strings[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

async function loadLanguage(lang) {
  const load = async (code) => (await fetch(`/static/i18n/${code}.json`)).json();
  fallback = await load("en");
  strings = lang === "en" ? fallback : await load(lang).catch(() => fallback);
  document.documentElement.lang = lang;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  sceneSignature = "";  // rebuild scene buttons with translated labels
  render();
}

function pickLanguage() {
  const saved = localStorage.getItem("persona-lang");
  const offered = [...document.querySelectorAll("#language option")].map((o) => o.value);
  const wanted = saved || (navigator.language || "en").slice(0, 2);
  return offered.includes(wanted) ? wanted : "en";
}

async function send(path, body) {
  try {
    const response = await fetch(`/api/${path}`, {
      method: "POST",
      headers: {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"},
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) {
      const reply = await response.json().catch(() => ({}));
      alertText(t("failed", {reason: reply.error || response.status}));
    }
  } catch (error) {
    alertText(t("failed", {reason: error.message}));
  }
}

function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = "";
  requestAnimationFrame(() => { region.textContent = text; });
}

function alertText(text) {
  document.getElementById("alert").textContent = text;
}

function buildScenes(scenes) {
  const group = document.getElementById("scenes");
  const focused = document.activeElement?.dataset?.key;
  group.replaceChildren();
  for (const scene of scenes) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "scene";
    button.dataset.key = scene.hotkey || scene.key || scene.name;
    if (scene.hotkey) {
      button.dataset.hotkey = scene.hotkey;
      button.setAttribute("aria-keyshortcuts", scene.hotkey);
      const key = document.createElement("kbd");
      key.textContent = scene.hotkey;
      button.append(key, " ");
    }
    const name = document.createElement("span");
    name.textContent = scene.name;
    button.append(name);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => send(`scene/${encodeURIComponent(button.dataset.key)}`));
    group.append(button);
    if (focused && focused === button.dataset.key) button.focus();
  }
}

function render() {
  const scenes = status.scenes || [];
  const signature = JSON.stringify(scenes.map((s) => [s.name, s.hotkey]));
  if (signature !== sceneSignature) {
    buildScenes(scenes);
    sceneSignature = signature;
  }
  for (const button of document.querySelectorAll("button.scene")) {
    const current = button.querySelector("span").textContent === status.scene;
    button.setAttribute("aria-pressed", String(current));
  }
  document.getElementById("scene").textContent = status.scene ?? "–";
  document.getElementById("fps").textContent =
    typeof status.fps === "number" ? status.fps.toFixed(1) : "–";
  document.getElementById("latency").textContent = typeof status.latency_ms === "number" &&
    isFinite(status.latency_ms) ? t("latency_value", {ms: Math.round(status.latency_ms)}) : "–";
  document.getElementById("face").textContent = status.face
    ? t("face_seen", {percent: Math.round(100 * (status.confidence || 0))}) : t("face_lost");
  const voice = status.voice;
  // The output level: what the virtual microphone receives, 0 at -60 dBFS and below.
  const level = voice ? Math.max(0, Math.min(1, (voice.output_db + 60) / 60)) : 0;
  document.getElementById("level").value = level;
  document.getElementById("voice-state").textContent = !voice ? t("voice_off")
    : voice.muted ? t("voice_muted") : voice.bypass ? t("voice_real") : t("voice_on");
  const pressed = {
    blank: status.blank, freeze: status.freeze, panic: status.panic,
    mute: voice ? voice.muted : false, voice: voice ? !voice.bypass : false,
  };
  for (const button of document.querySelectorAll("button.control[aria-pressed]")) {
    button.setAttribute("aria-pressed", String(Boolean(pressed[button.dataset.command])));
  }
}

function update(next) {
  const previous = status;
  status = next;
  if (previous.scene !== undefined && previous.scene !== next.scene) {
    announce(t("switched", {name: next.scene}));
  }
  if (previous.blank !== undefined && previous.blank !== next.blank) {
    announce(t(next.blank ? "blank_on" : "blank_off"));
  }
  if (previous.freeze !== undefined && previous.freeze !== next.freeze) {
    announce(t(next.freeze ? "frozen_on" : "frozen_off"));
  }
  const refused = next.refused;
  const refusalId = refused ? `${refused.scene}|${refused.reason}` : null;
  if (refused && refusalId !== lastRefusal && refused.age_s < 10) {
    alertText(t("refused", {name: refused.scene, current: next.scene, reason: refused.reason}));
  }
  lastRefusal = refusalId;
  render();
}

function showPairing(on) {
  document.getElementById("pairing").hidden = !on;
  for (const section of document.querySelectorAll("main > section:not(#pairing)")) {
    section.hidden = on;
  }
  if (on) document.getElementById("pair-code").focus();
}

function forgetToken() {
  token = "";
  sessionStorage.removeItem("persona-token");
}

async function pair(event) {
  event.preventDefault();  // the page's policy allows no form submission: fetch does it
  const field = document.getElementById("pair-code");
  const error = document.getElementById("pair-error");
  let response;
  try {
    response = await fetch("/api/pair", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({code: field.value}),
    });
  } catch (failure) {
    error.textContent = t("failed", {reason: failure.message});
    return;
  }
  const reply = await response.json().catch(() => ({}));
  if (response.ok && reply.token) {
    token = reply.token;
    sessionStorage.setItem("persona-token", token);
    field.value = "";
    error.textContent = "";
    announce(t("paired"));
    start();
    return;
  }
  if (response.status === 429) {
    error.textContent = t("pair_locked", {seconds: response.headers.get("Retry-After") || 60});
  } else if (response.status === 403) {
    error.textContent = t("pair_wrong", {left: reply.attempts_left ?? 0});
  } else if (response.status === 404) {
    error.textContent = t("unauthorised");  // not the tablet remote: no pairing here
  } else {
    error.textContent = t("failed", {reason: reply.error || response.status});
  }
  field.select();
}

// The engine's vocabulary; false when the token is missing or wrong.
async function loadVocabulary() {
  if (!token) return false;
  const response = await fetch("/api/vocabulary", {headers: {"Authorization": `Bearer ${token}`}})
    .catch(() => null);
  if (response && response.status === 401) return false;
  if (response && response.ok) vocabulary = await response.json();
  return true;
}

async function start() {
  if (!(await loadVocabulary())) {
    forgetToken();
    showPairing(true);
    return;
  }
  showPairing(false);
  connect();
}

function connect() {
  const connection = document.getElementById("connection");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/events?token=${encodeURIComponent(token)}`);
  socket.addEventListener("open", () => {
    connection.dataset.state = "connected";
    connection.textContent = t("connected");
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.status) update(message.status);
  });
  socket.addEventListener("close", async () => {
    connection.dataset.state = "disconnected";
    const probe = await fetch("/api/status", {headers: {"Authorization": `Bearer ${token}`}})
      .catch(() => null);
    if (probe && probe.status === 401) {  // a new token (or a new session): pair again
      connection.textContent = t("unauthorised");
      forgetToken();
      showPairing(true);
      return;
    }
    connection.textContent = t("disconnected");
    setTimeout(connect, 1500);
  });
}

function onKey(event) {
  if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
  if (event.target.closest("select, input, textarea")) return;
  if (!document.getElementById("pairing").hidden) return;  // no controls until paired
  const key = event.key.toUpperCase();
  const sceneButton = document.querySelector(`button.scene[data-hotkey="${CSS.escape(key)}"]`);
  if (sceneButton) {
    event.preventDefault();
    sceneButton.click();
    return;
  }
  const command = {B: "blank", M: "mute", F: "freeze", V: "voice", C: "calibrate", P: "panic"}[key];
  if (command) {
    event.preventDefault();
    document.querySelector(`button.control[data-command="${command}"]`).click();
  }
}

function setContrast(on) {
  document.documentElement.classList.toggle("high-contrast", on);
  document.getElementById("contrast").setAttribute("aria-pressed", String(on));
  localStorage.setItem("persona-contrast", on ? "1" : "0");
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.control")) {
    button.addEventListener("click", () => {
      const command = button.dataset.command;
      if (command === "calibrate") announce(t("calibrating"));
      // A switch asks for the state it does not show now, so a double click cannot undo itself.
      const wanted = button.getAttribute("aria-pressed") !== "true";
      // What could expose the person is asked once more: lifting the panic, the real voice.
      if (command === "panic" && !wanted) {
        if (confirm(t("panic_lift_confirm"))) send(command, {on: false, argument: "lift"});
      } else if (command === "voice" && !wanted) {
        if (confirm(t("real_voice_confirm"))) send(command, {on: false, argument: "confirm"});
      } else {
        send(command, vocabulary.switches.includes(command) ? {on: wanted} : undefined);
      }
    });
  }
  document.getElementById("contrast").addEventListener("click", () =>
    setContrast(!document.documentElement.classList.contains("high-contrast")));
  setContrast(localStorage.getItem("persona-contrast") === "1" ||
              matchMedia("(prefers-contrast: more)").matches);
  const language = document.getElementById("language");
  language.value = pickLanguage();
  language.addEventListener("change", () => {
    localStorage.setItem("persona-lang", language.value);
    loadLanguage(language.value);
  });
  document.addEventListener("keydown", onKey);
  document.getElementById("pair-form").addEventListener("submit", pair);
  loadLanguage(language.value).then(start);
});
