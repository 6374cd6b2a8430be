// The customer panel's "contacts from the bank": every reminder, alert, notice and survey the bank sent or
// tried to send the customer (a suppressed one with its reason), newest first, linked to its conversation.
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { when } from "./format.js";
import { conversationHref, openConversation } from "./router.js";
import { tr } from "./tr.js";

const SHOWN = 20;

export function OutboundContacts({ customerId }) {
  useLanguage();
  const [contacts, setContacts] = useState(null);
  useEffect(() => {
    if (!customerId) return;
    let stale = false;
    api("GET", `/api/outbound/customers/${encodeURIComponent(customerId)}/contacts?limit=${SHOWN}`)
      .then((found) => { if (!stale) setContacts(found.contacts || []); })
      .catch(() => { if (!stale) setContacts(null); });
    return () => { stale = true; };
  }, [customerId]);
  if (!customerId || contacts === null) return null;
  return (
    <section class="card-box" aria-labelledby="contacts-heading">
      <h3 id="contacts-heading">{tr.t("contacts.heading")}</h3>
      {contacts.length ? (
        <ul id="outbound-contacts" class="earlier">
          {contacts.map((a) => {
            const line = tr.t("contacts.line", {
              when: when(a.sent_at || a.earliest_at),
              kind: tr.word("okind", a.kind),
              channel: a.channel ? tr.word("ochannel", a.channel) : "—",
              state: tr.word("astate", a.state) + (a.reason ? " (" + tr.word("suppress", a.reason) + ")" : ""),
            });
            return (
              <li key={a.id} data-attempt={a.id}>
                {a.conversation_id ? (
                  <a href={conversationHref(a.conversation_id)} title={tr.t("contacts.open")}
                    onClick={(e) => { e.preventDefault(); openConversation(a.conversation_id); }}>{line}</a>
                ) : <span>{line}</span>}
                {a.answer ? <span class="hint"> · {tr.t("contacts.answer", { answer: tr.word("oanswer", a.answer) })}</span> : null}
              </li>
            );
          })}
        </ul>
      ) : <p>{tr.t("contacts.none")}</p>}
    </section>
  );
}
