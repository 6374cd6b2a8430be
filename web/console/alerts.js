// Alerts for the operator: a short sound (mutable, remembered), a desktop notification when the browser
// allows it, an announcement for screen readers, and the unread count in the tab title. Every alert is
// also recorded in window.__consoleAlerts (time, kind, conversation) for the browser tests and the bench.
const MUTE_KEY = "console.muted";
window.__consoleAlerts = [];

let audio = null;
// Whether the browser holds sound back until the operator clicks (its autoplay rule after a reload).
const soundListeners = new Set();
let blocked = false;

function setBlocked(value) {
  if (blocked === value) return;
  blocked = value;
  for (const fn of soundListeners) fn(blocked);
}

/** Watch whether sound is blocked by the browser: fn(blocked) now and on every change. */
export function watchSound(fn) {
  soundListeners.add(fn);
  fn(blocked);
  return () => soundListeners.delete(fn);
}

/** Find out at once whether alerts could sound (an AudioContext made without a click starts suspended). */
export function probeSound() {
  try {
    audio = audio || new AudioContext();
    setBlocked(audio.state !== "running");
    audio.onstatechange = () => setBlocked(audio.state !== "running");
  } catch (e) {
    setBlocked(false);  // no audio at all: nothing the operator could enable
  }
}

/** The operator's one click that lets alerts sound; a short beep says it worked. */
export async function enableSound() {
  try {
    audio = audio || new AudioContext();
    await audio.resume();
  } catch (e) { /* stays blocked */ }
  setBlocked(!audio || audio.state !== "running");
  if (!blocked) beep();
  return !blocked;
}

export function isMuted() {
  try { return localStorage.getItem(MUTE_KEY) === "1"; } catch (e) { return false; }
}

export function setMuted(muted) {
  try { localStorage.setItem(MUTE_KEY, muted ? "1" : "0"); } catch (e) { /* this page only */ }
}

function beep() {
  try {
    audio = audio || new AudioContext();
    if (audio.state !== "running") { setBlocked(true); return false; }
    const now = audio.currentTime;
    for (const [offset, freq] of [[0, 880], [0.18, 1320]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.16);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + offset);
      osc.stop(now + offset + 0.17);
    }
    return true;
  } catch (e) {
    return false;  // no audio device: the other alerts still reach the operator
  }
}

export function notificationState() {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

export async function askNotifications() {
  if (typeof Notification === "undefined") return "unsupported";
  return Notification.requestPermission();
}

/** Alert the operator: {kind, conversationId, title, body, onOpen}. */
export function alertOperator({ kind, conversationId, title, body, onOpen }) {
  const sound = !isMuted() && beep();
  let notified = false;
  if (notificationState() === "granted") {
    try {
      const note = new Notification(title, { body, tag: conversationId + ":" + kind });
      note.onclick = () => { window.focus(); onOpen(); note.close(); };
      notified = true;
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  }
  const region = document.getElementById("alert-live");
  if (region) region.textContent = body ? title + ". " + body : title;
  window.__consoleAlerts.push({ at: Date.now(), kind, conversationId, title, body, sound, notification: notified });
}
