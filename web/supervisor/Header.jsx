// The page header: what page this is, its sections (overview, campaigns), the way to the operator console,
// language, sign-out.
import { LanguageSwitch } from "../lib/components.jsx";
import { useLanguage } from "../lib/i18n.js";
import { tr } from "./tr.js";

function Section({ name, href, view, onView }) {
  const current = view === name;
  return (
    <a href={href} id={"nav-" + name} aria-current={current ? "page" : undefined}
      onClick={(ev) => { ev.preventDefault(); onView(name); }}>{tr.t("nav." + name)}</a>
  );
}

export function Header({ me, onSignOut, connection, view, onView }) {
  useLanguage();
  return (
    <header class="sv-header">
      <h1>{tr.t("header.heading")}</h1>
      <nav aria-label={tr.t("header.nav")} class="sv-nav">
        <Section name="overview" href="/supervisor" view={view} onView={onView} />
        <Section name="campaigns" href="/supervisor?view=campaigns" view={view} onView={onView} />
        <a href="/console" id="to-console">{tr.t("header.console")}</a>
      </nav>
      <span class={"badge" + (connection === "live" ? " live" : "")} id="connection" role="status">
        {tr.t("connection." + connection)}
      </span>
      <span class="who">{me.display_name}</span>
      <LanguageSwitch tr={tr} />
      <button type="button" id="sign-out" onClick={onSignOut}>{tr.t("header.signOut")}</button>
    </header>
  );
}
