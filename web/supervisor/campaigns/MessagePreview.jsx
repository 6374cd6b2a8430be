// The campaign's message as a sample customer would read it, in Russian and in English side by side.
import { useEffect, useState } from "preact/hooks";
import { useLanguage } from "../../lib/i18n.js";
import { tr } from "../tr.js";
import { campaignError, campaigns } from "./api.js";

function title(button) {
  return typeof button === "string" ? button : button.title;
}

export function MessagePreview({ campaignId }) {
  useLanguage();
  const [customer, setCustomer] = useState("");
  const [preview, setPreview] = useState(null);
  const [problem, setProblem] = useState(null);

  async function load(customerId) {
    setProblem(null);
    try {
      setPreview(await campaigns.preview(campaignId, customerId));
    } catch (err) {
      setPreview(null);
      setProblem(campaignError(err).text);
    }
  }
  useEffect(() => { load(""); }, [campaignId]);

  return (
    <section class="preview-box" aria-labelledby="preview-heading">
      <h3 id="preview-heading">{tr.t("preview.heading")}</h3>
      <form class="inline-form" onSubmit={(ev) => { ev.preventDefault(); load(customer.trim()); }}>
        <label>{tr.t("preview.customer")}
          <input id="preview-customer" value={customer} onInput={(e) => setCustomer(e.currentTarget.value)} aria-describedby="preview-help" />
        </label>
        <button type="submit" id="preview-show">{tr.t("preview.show")}</button>
        <span class="hint" id="preview-help">{tr.t("preview.customerHelp")}</span>
      </form>
      {problem ? <p role="alert" class="form-problem">{problem}</p> : null}
      {preview ? (
        <>
          <p class="hint" id="preview-for">
            {tr.t("preview.for", { id: preview.customer_id })}{preview.channel ? " · " + tr.word("ochannel", preview.channel) : ""}
          </p>
          <div class="previews">
            {["ru", "en"].map((lang) => (
              <figure class="message-sample" key={lang} id={"preview-" + lang}>
                <figcaption>{tr.t("preview." + lang)}</figcaption>
                <p class="bubble" lang={lang}>{(preview.messages || {})[lang]}</p>
                {((preview.buttons || {})[lang] || []).length ? (
                  <ul class="sample-buttons" lang={lang}>
                    {preview.buttons[lang].map((b) => <li key={title(b)}>{title(b)}</li>)}
                  </ul>
                ) : null}
              </figure>
            ))}
          </div>
        </>
      ) : null}
    </section>
  );
}
