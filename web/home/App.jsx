// The front page of a local run: one card per page of the platform (web chat, operator console, supervisor
// page, knowledge-base editor) with the demo accounts that open it. The accounts come from /api/home, which
// lists only what this gateway actually seeded.
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { LanguageSwitch } from "../lib/components.jsx";
import { useLanguage } from "../lib/i18n.js";
import { tr } from "./tr.js";

export function App() {
  const lang = useLanguage();
  const [home, setHome] = useState(null);
  useEffect(() => { api("GET", "/api/home").then(setHome).catch(() => setHome({ pages: [] })); }, []);
  useEffect(() => { document.title = tr.t("title"); }, [lang]);
  return (
    <>
      <header class="home-head">
        <h1>{tr.t("heading")}</h1>
        <LanguageSwitch tr={tr} />
      </header>
      <main class="home">
        <p class="lead">{tr.t("lead")}</p>
        <ul class="home-pages" id="pages">
          {(home ? home.pages : []).map((page) => <PageCard key={page.id} page={page} password={home.passwords} />)}
        </ul>
        {home && home.demo ? <p class="hint">{tr.t("demoNote")}</p> : null}
      </main>
    </>
  );
}

function PageCard({ page, password }) {
  return (
    <li class="home-page" id={"page-" + page.id}>
      <h2><a href={page.href}>{tr.t("page." + page.id)}</a></h2>
      <p>{tr.t("about." + page.id)}</p>
      {page.accounts.length ? (
        <>
          <h3>{tr.t(page.id === "chat" ? "customers" : "accounts")}</h3>
          <ul class="accounts">
            {page.accounts.map((a) => (
              <li key={a.login}>
                <strong>{a.name}</strong>
                {page.id === "chat" ? null : <> · <code>{a.login}</code> / <code>{password[a.password]}</code></>}
                {a.roles ? <span class="hint"> · {a.roles.map((r) => tr.word("role", r)).join(", ")}</span> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </li>
  );
}
