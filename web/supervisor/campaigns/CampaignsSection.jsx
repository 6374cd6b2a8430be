// The Campaigns section of the supervisor page: the list with live progress, and beside it the campaign being
// read or the form for a new one. The open campaign is in the address (?view=campaigns&campaign=<id>).
import { useEffect, useState } from "preact/hooks";
import { useLanguage } from "../../lib/i18n.js";
import { tr } from "../tr.js";
import { campaignError, campaigns } from "./api.js";
import { CampaignForm } from "./CampaignForm.jsx";
import { CampaignList } from "./CampaignList.jsx";
import { CampaignView } from "./CampaignView.jsx";

// Progress is re-read this often while the section is open (and at once on a live event).
const REFRESH_EVERY_MS = 3000;

function fromUrl() {
  const params = new URLSearchParams(location.search);
  return { campaign: params.get("campaign"), creating: params.get("new") === "1" };
}

function toUrl({ campaign, creating }) {
  const params = new URLSearchParams({ view: "campaigns" });
  if (campaign) params.set("campaign", campaign);
  if (creating) params.set("new", "1");
  history.pushState(null, "", "?" + params.toString());
}

export function CampaignsSection({ subscribe, onBanner }) {
  useLanguage();
  const [meta, setMeta] = useState(null);
  const [list, setList] = useState([]);
  const [where, setWhere] = useState(fromUrl);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    campaigns.meta().then(setMeta).catch((err) => onBanner({ kind: "error", ...campaignError(err) }));
    const poll = setInterval(() => setTick((t) => t + 1), REFRESH_EVERY_MS);
    const unsubscribe = subscribe((event) => {
      if (event.name.startsWith("outbound.") || event.name.startsWith("campaign.") || event.name.startsWith("survey.")) setTick((t) => t + 1);
    });
    const onPop = () => setWhere(fromUrl());
    window.addEventListener("popstate", onPop);
    return () => { clearInterval(poll); unsubscribe(); window.removeEventListener("popstate", onPop); };
  }, []);
  useEffect(() => {
    campaigns.list().then((found) => setList(found.campaigns || [])).catch(() => null);
  }, [tick]);

  function go(next) { setWhere(next); toUrl(next); }

  return (
    <div class="sv-campaigns">
      <section class="panel" aria-labelledby="campaigns-heading">
        <header class="figures-head">
          <h2 id="campaigns-heading">{tr.t("campaigns.heading")}</h2>
          <button type="button" class="primary push-right" id="campaign-new" disabled={!meta}
            onClick={() => go({ campaign: null, creating: true })}>{tr.t("campaigns.new")}</button>
        </header>
        <CampaignList items={list} selected={where.campaign} onOpen={(id) => go({ campaign: id, creating: false })} />
      </section>
      {where.creating && meta ? (
        <CampaignForm meta={meta} onBanner={onBanner} onCancel={() => go({ campaign: null, creating: false })}
          onCreated={(created) => { go({ campaign: created.id, creating: false }); setTick((t) => t + 1); }} />
      ) : null}
      {where.campaign && !where.creating ? (
        <CampaignView id={where.campaign} tick={tick} onBanner={onBanner}
          onClose={() => go({ campaign: null, creating: false })} onChanged={() => setTick((t) => t + 1)} />
      ) : null}
    </div>
  );
}
