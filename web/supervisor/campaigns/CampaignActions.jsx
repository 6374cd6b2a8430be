// What a supervisor may do with a campaign in its state: schedule a draft, pause, resume, cancel (asked twice).
import { useState } from "preact/hooks";
import { useLanguage } from "../../lib/i18n.js";
import { tr } from "../tr.js";
import { campaignError, campaigns } from "./api.js";

const ALLOWED = {
  draft: ["schedule", "cancel"],
  scheduled: ["pause", "cancel"],
  running: ["pause", "cancel"],
  paused: ["resume", "cancel"],
};
const DONE = { schedule: "scheduled", pause: "paused", resume: "resumed", cancel: "cancelled" };

export function CampaignActions({ campaign, onChanged, onBanner }) {
  useLanguage();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const allowed = ALLOWED[campaign.state] || [];
  if (!allowed.length) return null;

  async function act(action) {
    setConfirming(false);
    setBusy(true);
    try {
      const changed = await campaigns.act(campaign.id, action);
      onBanner({ kind: "ok", text: tr.t("actions.done." + DONE[action]) });
      onChanged(changed);
    } catch (err) {
      onBanner({ kind: "error", ...campaignError(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="campaign-actions" role="group" aria-label={tr.t("col.state")}>
      {allowed.filter((a) => a !== "cancel").map((action) => (
        <button type="button" key={action} id={"campaign-" + action} class={action === "schedule" ? "primary" : ""}
          disabled={busy} onClick={() => act(action)}>{tr.t("actions." + action)}</button>
      ))}
      {confirming ? (
        <span class="confirm" role="group" aria-label={tr.t("actions.cancel")}>
          <span>{tr.t("actions.confirmCancel")}</span>
          <button type="button" class="danger" id="campaign-cancel-yes" onClick={() => act("cancel")}>{tr.t("actions.confirmYes")}</button>
          <button type="button" onClick={() => setConfirming(false)}>{tr.t("actions.keep")}</button>
        </span>
      ) : (
        <button type="button" class="danger" id="campaign-cancel" disabled={busy} onClick={() => setConfirming(true)}>
          {tr.t("actions.cancel")}
        </button>
      )}
    </div>
  );
}
