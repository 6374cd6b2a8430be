// Small components every staff page uses: the language switch, the sign-in form, a status banner.
import { useState } from "preact/hooks";
import { api, setCsrf } from "./api.js";
import { LANGUAGES, errorText, setLanguage, useLanguage } from "./i18n.js";

export function LanguageSwitch({ tr }) {
  const lang = useLanguage();
  return (
    <div class="ui-lang" role="group" aria-label={tr.t("uiLang.group")}>
      {LANGUAGES.map((l) => (
        <button type="button" key={l} aria-pressed={String(l === lang)} onClick={() => setLanguage(l)} lang={l}>
          {l.toUpperCase()}
        </button>
      ))}
    </div>
  );
}

/** A line of feedback: kind "ok" (green), "info" or "error" (red, role=alert). */
export function Banner({ message, onDismiss, tr }) {
  if (!message) return null;
  const role = message.kind === "error" ? "alert" : "status";
  return (
    <div class={"banner " + message.kind} role={role} id="banner">
      <span>{message.text}</span>
      {message.detail ? <span class="detail" lang="en"> {message.detail}</span> : null}
      {onDismiss ? <button type="button" class="link" onClick={onDismiss} aria-label={tr.t("banner.dismiss")}>×</button> : null}
    </div>
  );
}

/** Sign in with a staff account; `onSignedIn(me)` gets the /me payload (CSRF token included). */
export function SignIn({ tr, heading, onSignedIn }) {
  useLanguage();
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  async function submit(ev) {
    ev.preventDefault();
    try {
      const me = await api("POST", "/api/console/sign-in", { login, password });
      setCsrf(me.csrf);
      onSignedIn(me);
    } catch (err) {
      setError(err.status === 401 || err.status === 403 ? { text: tr.t("signIn.wrong") } : errorText(tr, err));
    }
  }
  return (
    <main class="sign-in">
      <header class="sign-in-head"><h1>{heading}</h1><LanguageSwitch tr={tr} /></header>
      <form id="sign-in-form" onSubmit={submit}>
        <label>{tr.t("signIn.login")}<input id="login" autocomplete="username" value={login} onInput={(e) => setLogin(e.currentTarget.value)} required /></label>
        <label>{tr.t("signIn.password")}<input id="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required /></label>
        <button id="sign-in-button" type="submit">{tr.t("signIn.submit")}</button>
        <p id="sign-in-error" role="alert">{error ? error.text : ""}{error && error.detail ? <span lang="en"> {error.detail}</span> : null}</p>
      </form>
    </main>
  );
}
