// UI language of the staff pages (knowledge-base editor, operator console, supervisor page): Russian
// first, English second. Each page brings its own texts; this is the mechanism they share: keyed texts
// per language, data-i18n / data-i18n-placeholder / data-i18n-aria-label in the HTML, and a RU/EN switch
// of aria-pressed buttons ([data-ui-lang]) whose choice is kept in localStorage, so it carries between
// the staff pages of the gateway. Customer, operator and article texts are content and never translated.
"use strict";

// messages: {ru: {key: text}, en: {...}}. serverTextsRu: [pattern, (match) => Russian text] for the API's
// English errors the page shows most. validationPrefixRu: with it, any other 400 reads as this Russian
// prefix followed by the server's own detail (marked lang="en").
function staffI18n({ messages, serverTextsRu = [], validationPrefixRu = null }) {
  const LANGUAGES = Object.keys(messages);
  const STORAGE_KEY = "staff.ui-language";
  const listeners = [];

  function stored() {
    try { return localStorage.getItem(STORAGE_KEY); } catch (e) { return null; }
  }

  // The staff member's own choice, else the first of the browser's preferred languages the page has, else Russian.
  function initial() {
    const saved = stored();
    if (LANGUAGES.includes(saved)) return saved;
    for (const tag of navigator.languages || [navigator.language || ""]) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (LANGUAGES.includes(base)) return base;
    }
    return "ru";
  }

  let language = initial();

  function has(key) { return key in messages[language]; }

  function t(key, params) {
    const text = messages[language][key] ?? messages.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (params && name in params ? String(params[name]) : whole));
  }

  // A fixed word from the API (a status, reason, resolution) in the UI language; an unknown one as it came.
  function word(group, value) {
    if (value === null || value === undefined || value === "") return "";
    return has(group + "." + value) ? t(group + "." + value) : String(value);
  }

  // A server error in the UI language: [text, lang of the text] or [Russian prefix, "ru", English detail].
  function serverText(err) {
    const text = err && err.message ? err.message : String(err);
    // A coded error (the API's `code` and `params`) is said in the page's own words, in either language;
    // a `field` parameter is named as the page names that field ("fieldName.<field>").
    if (err && err.code && has("error." + err.code)) {
      const params = Object.assign({}, err.params || {});
      if (params.field !== undefined) params.fieldName = word("fieldName", params.field);
      return [t("error." + err.code, params), language];
    }
    if (language !== "ru") return [text, "en"];
    for (const [pattern, say] of serverTextsRu) {
      const m = pattern.exec(text);
      if (m) return [say(m), "ru"];
    }
    return validationPrefixRu !== null && err && err.status === 400 ? [validationPrefixRu, "ru", text] : [text, "en"];
  }

  // Write [text, lang, english detail?] into `node`, marking its language when it differs from the page's.
  function write(node, [text, lang, english]) {
    node.replaceChildren(text);
    if (english !== undefined) {
      const detail = document.createElement("span");
      detail.textContent = english;
      detail.lang = "en";
      node.append(detail);
    }
    if (lang === language) node.removeAttribute("lang"); else node.setAttribute("lang", lang);
  }

  function showError(node, err) { write(node, serverText(err)); }

  function apply() {
    document.documentElement.lang = language;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    for (const b of document.querySelectorAll("[data-ui-lang]")) b.setAttribute("aria-pressed", String(b.dataset.uiLang === language));
    for (const fn of listeners) fn(language);
  }

  // The page's own renderers: called after every language change, so texts the page wrote follow it.
  function onChange(fn) { listeners.push(fn); }

  function set(lang) {
    if (!LANGUAGES.includes(lang)) return;
    language = lang;
    try { localStorage.setItem(STORAGE_KEY, language); } catch (e) { /* private mode: this page only */ }
    apply();
  }

  for (const b of document.querySelectorAll("[data-ui-lang]")) b.addEventListener("click", () => set(b.dataset.uiLang));

  return { t, has, word, serverText, write, showError, apply, onChange, set, get language() { return language; } };
}
