// The customer panel: who the customer is and how they were verified, their cards with the actions an
// operator may take after verification, what the bot understood (slots as labels), knowledge-base
// suggestions that insert their answer into the reply, earlier conversations (open read only) and the
// contacts the bank made (outbound).
import { useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { money, when } from "./format.js";
import { OutboundContacts } from "./OutboundContacts.jsx";
import { conversationHref, openConversation } from "./router.js";
import { tr } from "./tr.js";

export function CustomerPanel({ ctx, mine, onDone, onError, onInsert, onHide }) {
  useLanguage();
  return (
    <aside class="panel" id="panel" aria-label={tr.t("panel.label")}>
      <button type="button" class="drawer-only" id="hide-panel" onClick={onHide}>{tr.t("conv.hidePanel")}</button>
      <Profile ctx={ctx} mine={mine} onDone={onDone} onError={onError} />
      <Slots slots={ctx.slots} />
      <Suggestions items={ctx.kb_suggestions} mine={mine} onInsert={onInsert} />
      <Earlier items={ctx.earlier_conversations} />
      <OutboundContacts customerId={ctx.conversation && ctx.conversation.customer_id} />
    </aside>
  );
}

function Profile({ ctx, mine, onDone, onError }) {
  const profile = ctx.profile;
  const conv = ctx.conversation;
  if (!profile) {
    return (
      <section class="card-box" aria-labelledby="profile-heading">
        <h3 id="profile-heading">{tr.t("panel.customer")}</h3>
        <p id="profile" class="unverified">{tr.t("panel.guest")}</p>
        {mine ? <Verify conv={conv} onDone={onDone} onError={onError} /> : null}
      </section>
    );
  }
  const customer = profile.customer || {};
  return (
    <section class="card-box" aria-labelledby="profile-heading">
      <h3 id="profile-heading">{tr.t("panel.customer")}</h3>
      <p id="profile"><strong>{customer.full_name}</strong></p>
      {ctx.verified_by ? <p class="verified" id="verified-by">{tr.t("panel.verifiedBy", { how: tr.word("verified", ctx.verified_by) })}</p> : null}
      <h4>{tr.t("panel.cards")}</h4>
      {profile.cards && profile.cards.length ? (
        <ul class="cards" id="cards">
          {profile.cards.map((card) => <Card key={card.card} card={card} conv={conv} mine={mine} onDone={onDone} onError={onError} />)}
        </ul>
      ) : <p>{tr.t("panel.noCards")}</p>}
      {profile.accounts && profile.accounts.length ? (
        <>
          <h4>{tr.t("panel.accounts")}</h4>
          <ul class="accounts">
            {profile.accounts.map((a) => <li key={a.account}>{a.product} · {a.account} · {money(a.balance)}</li>)}
          </ul>
        </>
      ) : null}
    </section>
  );
}

function Card({ card, conv, mine, onDone, onError }) {
  const last4 = (String(card.card).match(/(\d{4})\s*$/) || [])[1];
  const [confirming, setConfirming] = useState(false);
  const amount = card.kind === "credit"
    ? tr.t("card.available", { amount: money(card.available), limit: money(card.credit_limit) })
    : tr.t("card.balance", { amount: money(card.balance) });
  async function block() {
    setConfirming(false);
    try {
      const result = await api("POST", "/api/console/conversations/" + conv.id + "/cards/" + last4 + "/block");
      const key = result.result === "blocked" ? "banner.cardBlocked" : "banner.cardAlreadyBlocked";
      await onDone({ kind: "ok", text: tr.t(key, { card: card.card }) });
    } catch (err) { onError(err); }
  }
  return (
    <li class={"bank-card " + card.status} data-last4={last4}>
      <span class="card-name">{card.card}</span>
      <span class="card-facts">{card.product} · {tr.word("card.kind", card.kind)} · <span class="card-status">{tr.word("card.status", card.status)}</span></span>
      <span class="card-money">{amount}</span>
      {mine && card.status === "active" && last4 ? (
        confirming ? (
          <span class="confirm" role="group" aria-label={tr.t("card.blockLabel", { card: card.card })}>
            <span>{tr.t("card.confirmBlock", { card: card.card })}</span>
            <button type="button" class="danger confirm-block" onClick={block}>{tr.t("card.confirmBlockYes")}</button>
            <button type="button" onClick={() => setConfirming(false)}>{tr.t("actions.cancel")}</button>
          </span>
        ) : (
          <button type="button" class="danger block-card" aria-label={tr.t("card.blockLabel", { card: card.card })}
            onClick={() => setConfirming(true)}>{tr.t("card.block")}</button>
        )
      ) : null}
    </li>
  );
}

function Verify({ conv, onDone, onError }) {
  const [phone, setPhone] = useState("");
  const [last4, setLast4] = useState("");
  async function sendLink() {
    try {
      await api("POST", "/api/console/conversations/" + conv.id + "/offer-sign-in");
      await onDone({ kind: "ok", text: tr.t("banner.signInSent") });
    } catch (err) { onError(err); }
  }
  async function check(e) {
    e.preventDefault();
    try {
      await api("POST", "/api/console/conversations/" + conv.id + "/verify-digits", { phone, last4 });
      await onDone({ kind: "ok", text: tr.t("banner.verified") });
    } catch (err) { onError(err); }
  }
  return (
    <div class="verify" id="verify">
      <h4>{tr.t("verify.heading")}</h4>
      <p class="hint">{tr.t("verify.why")}</p>
      {conv.channel === "webchat" ? <button type="button" id="send-sign-in" onClick={sendLink}>{tr.t("verify.sendLink")}</button> : null}
      <form class="digits" onSubmit={check}>
        <p class="hint">{tr.t("verify.digitsHelp")}</p>
        <label>{tr.t("verify.phone")}<input id="verify-phone" type="tel" autocomplete="off" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} required /></label>
        <label>{tr.t("verify.last4")}<input id="verify-last4" inputmode="numeric" pattern="[0-9]{4}" maxLength={4} autocomplete="off" value={last4} onInput={(e) => setLast4(e.currentTarget.value)} required /></label>
        <button type="submit" id="verify-check">{tr.t("verify.check")}</button>
      </form>
    </div>
  );
}

function slotValue(value) {
  if (typeof value === "boolean") return tr.t(value ? "value.true" : "value.false");
  if (typeof value === "string") return tr.has("value." + value) ? tr.t("value." + value) : value;
  if (Array.isArray(value)) return value.map(slotValue).join(", ");
  return JSON.stringify(value);
}

function Slots({ slots }) {
  const entries = Object.entries(slots || {});
  return (
    <section class="card-box" aria-labelledby="slots-heading">
      <h3 id="slots-heading">{tr.t("panel.slots")}</h3>
      {entries.length ? (
        <dl id="slots" class="slots">
          {entries.map(([key, value]) => (
            <div key={key} class="slot"><dt>{tr.has("slot." + key) ? tr.t("slot." + key) : key}</dt><dd>{slotValue(value)}</dd></div>
          ))}
        </dl>
      ) : <p>{tr.t("panel.noSlots")}</p>}
    </section>
  );
}

function Suggestions({ items, mine, onInsert }) {
  return (
    <section class="card-box" aria-labelledby="kb-heading">
      <h3 id="kb-heading">{tr.t("panel.kb")}</h3>
      {items && items.length ? (
        <ul id="kb" class="kb">
          {items.map((item) => (
            <li key={item.id}>
              <span class="kb-title">{item.title}</span>
              {item.voice ? <span class="tag">{tr.t("panel.kbVoice")}</span> : null}
              <p class="kb-answer">{item.answer}</p>
              {mine && item.answer ? (
                <button type="button" class="kb-insert" aria-label={tr.t("panel.kbInsert", { title: item.title })}
                  onClick={() => onInsert(item.answer)}>{tr.t("panel.kbInsertShort")}</button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : <p>{tr.t("panel.kbNone")}</p>}
    </section>
  );
}

function Earlier({ items }) {
  return (
    <section class="card-box" aria-labelledby="earlier-heading">
      <h3 id="earlier-heading">{tr.t("panel.earlier")}</h3>
      {items && items.length ? (
        <ul id="earlier" class="earlier">
          {items.map((c) => (
            <li key={c.id}>
              <a href={conversationHref(c.id)} onClick={(e) => { e.preventDefault(); openConversation(c.id); }}>
                {when(c.created_at)} · {tr.word("channel", c.channel)} · {c.resolution ? tr.word("resolution", c.resolution) : tr.word("state", c.state)}
                {c.reason ? " · " + tr.word("reason", c.reason) : ""}
              </a>
            </li>
          ))}
        </ul>
      ) : <p>{tr.t("panel.noEarlier")}</p>}
    </section>
  );
}
