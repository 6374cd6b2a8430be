// The period's headline figures as cards: readable units, a detail line under each.
import { useLanguage } from "../lib/i18n.js";
import { duration, number, percent } from "./format.js";
import { tr } from "./tr.js";

function Card({ id, label, value, detail }) {
  return (
    <div class="kpi" id={id}>
      <div class="kpi-label">{label}</div>
      <div class="kpi-value">{value}</div>
      {detail ? <div class="kpi-detail">{detail}</div> : null}
    </div>
  );
}

export function Kpis({ figures }) {
  useLanguage();
  const f = figures;
  return (
    <div class="kpis" id="kpis">
      <Card id="kpi-conversations" label={tr.t("kpi.conversations")} value={number(f.conversations, 0)} />
      <Card id="kpi-containment" label={tr.t("kpi.containment")} value={percent(f.containment_rate)} />
      <Card id="kpi-escalated" label={tr.t("kpi.escalated")} value={number(f.escalated, 0)}
        detail={[
          tr.t("kpi.atOnce", { count: f.escalated_at_once }),
          f.escalated_after_bot
            ? tr.t("kpi.afterBotAvg", { count: f.escalated_after_bot, avg: number(f.bot_turns_before_escalation_avg) })
            : tr.t("kpi.afterBot", { count: 0 }),
        ].join("; ")} />
      <Card id="kpi-wait" label={tr.t("kpi.wait")} value={duration(f.wait_avg_seconds)}
        detail={f.wait_p90_seconds !== null ? tr.t("kpi.waitDetail", { p90: duration(f.wait_p90_seconds) }) : null} />
      <Card id="kpi-first-response" label={tr.t("kpi.firstResponse")} value={duration(f.first_response_avg_seconds)} />
      <Card id="kpi-handle" label={tr.t("kpi.handle")} value={duration(f.handle_avg_seconds)} />
      <Card id="kpi-rating" label={tr.t("kpi.rating")} value={f.rating_avg === null ? tr.t("kpi.none") : number(f.rating_avg)}
        detail={tr.t("kpi.ratings", { count: f.ratings })} />
    </div>
  );
}
