// UI language of the staff pages: Russian first, English second. The choice is kept under the same
// localStorage key as core/static/staff-i18n.js uses (the KB editor), so it carries across every staff page.
// Texts live in one file per language: lib/texts/<lang>.js (shared) and <page>/texts/<lang>.js (the page's).
// Customer, operator and article texts are content and are never translated.
import { useEffect, useState } from "preact/hooks";

export const LANGUAGES = ["ru", "en"];
const STORAGE_KEY = "staff.ui-language";
const listeners = new Set();

function initial() {
  let saved = null;
  try { saved = localStorage.getItem(STORAGE_KEY); } catch (e) { /* private mode */ }
  if (LANGUAGES.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "ru";
}

let current = initial();
document.documentElement.lang = current;

export function language() { return current; }

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang) || lang === current) return;
  current = lang;
  document.documentElement.lang = lang;
  try { localStorage.setItem(STORAGE_KEY, lang); } catch (e) { /* this page only */ }
  for (const fn of listeners) fn(lang);
}

/** Re-render the calling component when the language changes; returns the language. */
export function useLanguage() {
  const [lang, setLang] = useState(current);
  useEffect(() => { listeners.add(setLang); return () => listeners.delete(setLang); }, []);
  return lang;
}

/**
 * A translator over texts {ru: {...}, en: {...}} (shared texts merged under the page's):
 * t(key, params) fills {name} placeholders; word(group, value) names a fixed API word (a state, reason)
 * and gives an unknown one back as it came.
 */
export function translator(...bundles) {
  const merged = {};
  for (const lang of LANGUAGES) merged[lang] = Object.assign({}, ...bundles.map((b) => b[lang] || {}));
  function t(key, params) {
    const text = merged[current][key] ?? merged.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (params && name in params ? String(params[name]) : whole));
  }
  function has(key) { return key in merged[current]; }
  function word(group, value) {
    if (value === null || value === undefined || value === "") return "";
    return has(group + "." + value) ? t(group + "." + value) : String(value);
  }
  return { t, has, word };
}

/**
 * An API error in the UI language: a known `code` has its own text ("error.<code>"), anything else reads
 * as the page's generic failure followed by the server's English detail.
 */
export function errorText(tr, err) {
  if (err && err.code && tr.has("error." + err.code)) return { text: tr.t("error." + err.code, err.params || {}) };
  if (err && err.status === 0) return { text: tr.t("error.network") };
  return { text: tr.t("error.generic"), detail: err && err.message ? err.message : String(err) };
}
