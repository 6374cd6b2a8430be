// Reports of the chosen period beside the previous one of equal length: per team and channel, escalations
// by weekday x hour, the rating distribution and its trend, how long resolution took.
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { useLanguage } from "../lib/i18n.js";
import { duration, number, percent } from "./format.js";
import { tr } from "./tr.js";

const TOTALS = [
  ["conversations", (v) => number(v, 0)],
  ["escalated", (v) => number(v, 0)],
  ["closed", (v) => number(v, 0)],
  ["handle_avg_seconds", duration],
  ["rating_avg", (v) => number(v, 2)],
  ["within_target_share", percent],
];

function show(format, value) {
  return value === null || value === undefined ? "—" : format(value);
}

function Bar({ value, max }) {
  const width = max ? Math.round((100 * value) / max) : 0;
  return <span class="bar-cell"><span class="bar-fill" style={{ width: width + "%" }} /><span class="bar-value">{value}</span></span>;
}

export function Reports({ query }) {
  const lang = useLanguage();
  const [report, setReport] = useState(null);
  useEffect(() => { api("GET", "/api/supervisor/reports?" + query).then(setReport).catch(() => setReport(null)); }, [query]);
  if (!report) return null;
  const days = tr.t("reports.weekdays").split(",");
  const heatMax = Math.max(1, ...report.weekday_hour.flat());
  const ratingMax = Math.max(1, ...Object.values(report.ratings));
  const bandMax = Math.max(1, ...report.resolution_bands.map((b) => b.count));
  return (
    <section class="reports" aria-labelledby="reports-heading" key={lang}>
      <h3 id="reports-heading">{tr.t("reports.heading")}</h3>
      {/* On the narrowest phones the four headings need more than the screen: the table scrolls in its own box. */}
      <div class="table-box" tabIndex={0} role="region" aria-labelledby="reports-heading">
      <table id="report-compare">
        <thead><tr><th scope="col">{tr.t("reports.metric")}</th><th scope="col">{tr.t("reports.current")}</th>
          <th scope="col">{tr.t("reports.previous")}</th><th scope="col">{tr.t("reports.change")}</th></tr></thead>
        <tbody>
          {TOTALS.map(([key, format]) => {
            const now = report.current[key];
            const before = report.previous[key];
            const change = now !== null && before !== null && before !== undefined && typeof now === "number" ? now - before : null;
            return (
              <tr key={key}>
                <th scope="row">{tr.t("reports.total." + key)}</th>
                <td class="num">{show(format, now)}</td><td class="num">{show(format, before)}</td>
                <td class="num">{change === null ? "—" : (change > 0 ? "+" : change < 0 ? "−" : "") + show(format, Math.abs(change))}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      </div>
      <div class="shares">
        <section aria-labelledby="per-team-heading">
          <h4 id="per-team-heading">{tr.t("reports.perTeam")}</h4>
          <table id="report-teams">
            <thead><tr><th scope="col">{tr.t("col.team")}</th><th scope="col">{tr.t("reports.total.escalated")}</th>
              <th scope="col">{tr.t("reports.total.closed")}</th><th scope="col">{tr.t("reports.total.within_target_share")}</th>
              <th scope="col">{tr.t("col.rating")}</th></tr></thead>
            <tbody>
              {report.teams.map((t) => (
                <tr key={t.team}><th scope="row">{tr.word("team", t.team)}</th><td class="num">{t.escalated}</td><td class="num">{t.closed}</td>
                  <td class="num">{show(percent, t.within_target_share)}</td><td class="num">{show((v) => number(v, 2), t.rating_avg)}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
        <section aria-labelledby="per-channel-heading">
          <h4 id="per-channel-heading">{tr.t("reports.perChannel")}</h4>
          <table id="report-channels">
            <thead><tr><th scope="col">{tr.t("reports.channel")}</th><th scope="col">{tr.t("reports.total.conversations")}</th>
              <th scope="col">{tr.t("reports.total.escalated")}</th><th scope="col">{tr.t("reports.total.closed")}</th></tr></thead>
            <tbody>
              {report.channels.map((c) => (
                <tr key={c.channel}><th scope="row">{tr.word("channel", c.channel)}</th><td class="num">{c.conversations}</td>
                  <td class="num">{c.escalated}</td><td class="num">{c.closed}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <h4 id="heat-heading">{tr.t("reports.heat")}</h4>
      <div class="heat-wrap" tabIndex={0} role="region" aria-labelledby="heat-heading">
        <table id="report-heat" class="heat">
          <thead><tr><th scope="col"><span class="visually-hidden">{tr.t("reports.weekday")}</span></th>
            {Array.from({ length: 24 }, (_, h) => <th scope="col" key={h}>{h}</th>)}</tr></thead>
          <tbody>
            {report.weekday_hour.map((hours, d) => (
              <tr key={d}><th scope="row">{days[d]}</th>
                {hours.map((n, h) => <td key={h} class="heat-cell" style={{ background: n ? `rgba(11, 92, 173, ${0.15 + 0.85 * n / heatMax})` : "transparent", color: n / heatMax > 0.5 ? "#fff" : "inherit" }}>{n || ""}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="shares">
        <section aria-labelledby="ratings-heading">
          <h4 id="ratings-heading">{tr.t("reports.ratings")}</h4>
          <table id="report-ratings">
            <tbody>
              {Object.entries(report.ratings).reverse().map(([score, n]) => (
                <tr key={score}><th scope="row">{"★".repeat(Number(score))}<span class="visually-hidden"> {score}</span></th><td><Bar value={n} max={ratingMax} /></td></tr>
              ))}
            </tbody>
          </table>
          {report.rating_trend.length ? (
            <table id="report-rating-trend">
              <caption>{tr.t("reports.ratingTrend")}</caption>
              <thead><tr><th scope="col">{tr.t("reports.day")}</th><th scope="col">{tr.t("col.rating")}</th><th scope="col">{tr.t("col.count")}</th></tr></thead>
              <tbody>{report.rating_trend.map((d) => <tr key={d.date}><th scope="row">{new Date(d.date + "T12:00:00").toLocaleDateString(lang)}</th><td class="num">{number(d.average, 2)}</td><td class="num">{d.count}</td></tr>)}</tbody>
            </table>
          ) : null}
        </section>
        <section aria-labelledby="bands-heading">
          <h4 id="bands-heading">{tr.t("reports.resolution")}</h4>
          <table id="report-resolution">
            <tbody>
              {report.resolution_bands.map((b) => (
                <tr key={b.from_minutes}>
                  <th scope="row">{b.to_minutes === null ? tr.t("reports.bandOver", { from: b.from_minutes }) : tr.t("reports.band", { from: b.from_minutes, to: b.to_minutes })}</th>
                  <td><Bar value={b.count} max={bandMax} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </section>
  );
}
