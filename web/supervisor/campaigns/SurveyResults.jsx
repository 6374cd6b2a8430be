// A survey campaign's answers: average rating, recommendation score (NPS), both per day, and the comments.
import { useLanguage } from "../../lib/i18n.js";
import { BarChart } from "../BarChart.jsx";
import { dateTime, number } from "../format.js";
import { tr } from "../tr.js";

export function SurveyResults({ survey }) {
  useLanguage();
  if (!survey) return null;
  const days = survey.by_day || [];
  const points = (key) => days.map((d) => ({ start: d.day + "T12:00:00", value: d[key] }));
  const nps = survey.nps === null || survey.nps === undefined ? "—" : number(survey.nps, 0);
  return (
    <section aria-labelledby="survey-heading" id="survey-results">
      <h3 id="survey-heading">{tr.t("survey.heading")}</h3>
      {!survey.answers ? <p class="hint">{tr.t("survey.none")}</p> : (
        <>
          <div class="kpis">
            <div class="kpi" id="survey-answers">
              <div class="kpi-label">{tr.t("survey.answers")}</div>
              <div class="kpi-value">{number(survey.answers, 0)}</div>
              {survey.respondents !== undefined ? <div class="kpi-detail">{tr.t("survey.respondents", { count: survey.respondents })}</div> : null}
            </div>
            <div class="kpi" id="survey-rating">
              <div class="kpi-label">{tr.t("survey.ratingAvg")}</div>
              <div class="kpi-value">{survey.rating_avg === null ? "—" : number(survey.rating_avg)}</div>
              {survey.ratings !== undefined ? <div class="kpi-detail">{tr.t("survey.ratings", { count: survey.ratings })}</div> : null}
            </div>
            <div class="kpi" id="survey-nps">
              <div class="kpi-label">{tr.t("survey.nps")}</div>
              <div class="kpi-value">{nps}</div>
              {survey.scores !== undefined ? <div class="kpi-detail">{tr.t("survey.scores", { count: survey.scores })}</div> : null}
            </div>
          </div>
          <div class="charts">
            <BarChart id="chart-survey-rating" title={tr.t("survey.ratingChart")} bucket="day" max={5}
              points={points("rating_avg")} format={(v) => number(v)} />
            <BarChart id="chart-survey-nps" title={tr.t("survey.npsChart")} bucket="day" max={100} min={-100}
              points={points("nps")} format={(v) => number(v, 0)} />
          </div>
          <table id="survey-by-day">
            <thead><tr>
              <th scope="col">{tr.t("col.day")}</th><th scope="col">{tr.t("col.answers")}</th>
              <th scope="col">{tr.t("col.ratingAvg")}</th><th scope="col">{tr.t("col.nps")}</th>
            </tr></thead>
            <tbody>
              {days.map((d) => (
                <tr key={d.day}>
                  <th scope="row">{new Date(d.day + "T12:00:00").toLocaleDateString(document.documentElement.lang, { day: "numeric", month: "short" })}</th>
                  <td class="num">{number(d.answers, 0)}</td><td class="num">{number(d.rating_avg)}</td><td class="num">{number(d.nps, 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {(survey.comments || []).length ? (
            <>
              <h4>{tr.t("survey.comments")}</h4>
              <ul class="comments" id="survey-comments">
                {survey.comments.map((c, i) => {
                  const comment = typeof c === "string" ? { comment: c } : c;
                  return (
                    <li key={i}>
                      <blockquote>{comment.comment}</blockquote>
                      {comment.at ? <span class="hint">{dateTime(comment.at)}{comment.customer_id ? " · " + comment.customer_id : ""}</span> : null}
                    </li>
                  );
                })}
              </ul>
            </>
          ) : null}
        </>
      )}
    </section>
  );
}
