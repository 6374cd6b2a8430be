// Every campaign, newest first: kind, state, when, and its live progress; a row opens the campaign.
import { useLanguage } from "../../lib/i18n.js";
import { dateTime, number } from "../format.js";
import { tr } from "../tr.js";
import { ProgressBar } from "./ProgressBar.jsx";

export function CampaignList({ items, selected, onOpen }) {
  useLanguage();
  if (!items.length) return <p class="hint" id="campaigns-empty">{tr.t("campaigns.empty")}</p>;
  return (
    <div class="table-scroll" tabindex="0" role="region" aria-label={tr.t("campaigns.heading")}>
      <table id="campaign-list">
        <thead><tr>
          <th scope="col">{tr.t("col.name")}</th><th scope="col">{tr.t("col.kind")}</th>
          <th scope="col">{tr.t("col.state")}</th><th scope="col">{tr.t("col.schedule")}</th>
          <th scope="col">{tr.t("col.progress")}</th><th scope="col">{tr.t("col.sent")}</th>
          <th scope="col">{tr.t("col.replied")}</th><th scope="col">{tr.t("col.failed")}</th>
        </tr></thead>
        <tbody>
          {items.map((c) => {
            const counts = c.counts || {};
            return (
              <tr key={c.id} data-campaign={c.id} class={c.id === selected ? "selected" : ""}>
                <th scope="row">
                  <a href={"?view=campaigns&campaign=" + encodeURIComponent(c.id)}
                    onClick={(ev) => { ev.preventDefault(); onOpen(c.id); }}>{c.name}</a>
                </th>
                <td>{tr.word("kind", c.kind)}</td>
                <td><span class={"cstate " + c.state}>{tr.word("cstate", c.state)}</span></td>
                <td>{dateTime(c.start)} – {dateTime(c.end)}</td>
                <td><ProgressBar counts={counts} /></td>
                <td class="num">{number((counts.sent || 0) + (counts.delivered || 0) + (counts.replied || 0), 0)}</td>
                <td class="num">{number(counts.replied || 0, 0)}</td>
                <td class="num">{number(counts.failed || 0, 0)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
