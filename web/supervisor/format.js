// How the supervisor page writes figures in the UI language: %, m:ss, local dates and times.
import { language } from "../lib/i18n.js";

/** "4:07" or "1:02:09" for that many seconds; "—" when unknown. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** 0.3333 -> "33 %" (ru) / "33%" (en); "—" when unknown. */
export function percent(fraction) {
  if (fraction === null || fraction === undefined) return "—";
  return new Intl.NumberFormat(language(), { style: "percent", maximumFractionDigits: 0 }).format(fraction);
}

export function number(value, digits = 1) {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(language(), { maximumFractionDigits: digits }).format(value);
}

/** "29 нояб., 14:05" in the reader's time zone. */
export function dateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(language(), { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

/** A chart's axis label: "14:00" for hours, "29 нояб." for days. */
export function bucketLabel(iso, bucket) {
  const date = new Date(iso);
  return bucket === "day"
    ? date.toLocaleDateString(language(), { day: "numeric", month: "short" })
    : date.toLocaleTimeString(language(), { hour: "2-digit", minute: "2-digit" });
}

export function since(iso, now) {
  return iso ? duration((now - Date.parse(iso)) / 1000) : "";
}
