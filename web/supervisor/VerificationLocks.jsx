// Card-digit checks that are locked: customers after wrong endings, operators after failures across
// customers (handoff/verify_limits.py). A lock ends by itself; the supervisor may lift it earlier (audited).
import { api } from "../lib/api.js";
import { errorText, useLanguage } from "../lib/i18n.js";
import { dateTime } from "./format.js";
import { tr } from "./tr.js";

export function VerificationLocks({ locks, onLifted, onBanner }) {
  useLanguage();
  async function lift(subject) {
    try {
      await api("POST", "/api/supervisor/verification-locks/lift", { subject });
      onBanner({ kind: "ok", text: tr.t("locks.lifted") });
      onLifted();
    } catch (err) {
      onBanner({ kind: "error", ...errorText(tr, err) });
    }
  }
  return (
    <section class="panel" aria-labelledby="locks-heading">
      <h2 id="locks-heading">{tr.t("locks.heading")}</h2>
      {locks.length === 0 ? <p class="hint">{tr.t("locks.empty")}</p> : (
        <ul id="verification-locks">
          {locks.map((lock) => {
            const who = lock.subject.slice(lock.subject.indexOf(":") + 1);
            return (
              <li key={lock.subject + lock.until} data-subject={lock.subject}>
                <span>{tr.t(lock.kind === "operator" ? "locks.operator" : "locks.customer", { who, until: dateTime(lock.until) })}</span>{" "}
                <button type="button" onClick={() => lift(lock.subject)} aria-label={tr.t("locks.lift") + ": " + who}>{tr.t("locks.lift")}</button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
