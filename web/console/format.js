// How the console writes times, waits and money in the UI language.
import { language } from "../lib/i18n.js";

/** "4:07" or "1:02:09" for a wait of that many seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function since(iso, now) {
  return iso ? duration((now - Date.parse(iso)) / 1000) : "";
}

/** Today: "14:05"; earlier: "3 мар., 14:05". */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  const opts = sameDay ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return date.toLocaleString(language(), opts);
}

export function money(amount, currency = "RUB") {
  if (amount === null || amount === undefined || amount === "") return "";
  return new Intl.NumberFormat(language(), { style: "currency", currency }).format(Number(amount));
}
