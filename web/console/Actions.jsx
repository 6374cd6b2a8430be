// What the operator does with her conversation: transfer (to a colleague or a team), return to the bot,
// close with a resolution after a confirmation. The transfer list is read fresh every time it opens and again
// whenever a colleague's status or load changes while it is open, so it never offers a stale "offline".
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { language, useLanguage } from "../lib/i18n.js";
import { tr } from "./tr.js";

const RESOLUTIONS = ["resolved", "information_given", "card_blocked", "complaint_registered", "callback_arranged", "no_response", "other"];

export function Actions({ id, subscribe, onDone, onError }) {
  useLanguage();
  const [transferOpen, setTransferOpen] = useState(false);
  const [resolution, setResolution] = useState("");
  const [confirming, setConfirming] = useState(false);
  const dialog = useRef(null);

  useEffect(() => { if (confirming && dialog.current && !dialog.current.open) dialog.current.showModal(); }, [confirming]);

  async function returnToBot() {
    try {
      await api("POST", "/api/console/conversations/" + id + "/return-to-bot");
      await onDone({ kind: "ok", text: tr.t("banner.returned") });
    } catch (err) { onError(err); }
  }

  async function close() {
    dialog.current && dialog.current.close();
    setConfirming(false);
    try {
      await api("POST", "/api/console/conversations/" + id + "/close", { resolution });
      setResolution("");
      await onDone({ kind: "ok", text: tr.t("banner.closed") });
    } catch (err) { onError(err); }
  }

  return (
    <div class="actions" role="group" aria-label={tr.t("actions.label")}>
      <button type="button" id="open-transfer" aria-expanded={String(transferOpen)} aria-controls="transfer-form"
        onClick={() => setTransferOpen(!transferOpen)}>{tr.t("actions.transferTo")}</button>
      <button type="button" id="return-to-bot" onClick={returnToBot}>{tr.t("actions.returnToBot")}</button>
      <label class="resolution">{tr.t("actions.resolution")}
        <select id="resolution" value={resolution} onChange={(e) => setResolution(e.currentTarget.value)}>
          <option value="">{tr.t("actions.resolutionPick")}</option>
          {RESOLUTIONS.map((r) => <option value={r} key={r}>{tr.word("resolution", r)}</option>)}
        </select>
      </label>
      <button type="button" id="close" class="danger" onClick={() => {
        if (!resolution) { onError({ code: "pick_resolution" }); document.getElementById("resolution").focus(); return; }
        setConfirming(true);
      }}>{tr.t("actions.close")}</button>
      {transferOpen ? <Transfer id={id} subscribe={subscribe} onDone={async (b) => { setTransferOpen(false); await onDone(b); }} onError={onError} /> : null}
      {confirming ? (
        <dialog ref={dialog} id="confirm-close" aria-labelledby="confirm-close-text" onClose={() => setConfirming(false)}>
          <p id="confirm-close-text">{tr.t("actions.confirmClose", { resolution: tr.word("resolution", resolution) })}</p>
          <div class="dialog-buttons">
            <button type="button" id="confirm-close-yes" class="danger" onClick={close}>{tr.t("actions.confirm")}</button>
            <button type="button" id="confirm-close-no" onClick={() => { dialog.current.close(); setConfirming(false); }} autofocus>{tr.t("actions.cancel")}</button>
          </div>
        </dialog>
      ) : null}
    </div>
  );
}

// A configured team's name in the page's language (core/teams.yml has both).
function teamTitle(team) {
  return tr.t("team", { team: (team.titles && team.titles[language()]) || team.name });
}

// Events after which a colleague's line in the list (status, active/capacity) may read differently.
const COLLEAGUES_CHANGE_ON = new Set(["operator.status_changed", "conversation.assigned", "conversation.transferred", "conversation.closed", "conversation.returned_to_bot"]);

function Transfer({ id, subscribe, onDone, onError }) {
  const [colleagues, setColleagues] = useState(null);
  // The configured teams (GET /api/console/teams): the only ones a transfer may name.
  const [teams, setTeams] = useState([]);
  const [target, setTarget] = useState("team:cards");
  const [note, setNote] = useState("");
  useEffect(() => {
    const readColleagues = () => api("GET", "/api/console/operators?for=transfer").then((data) => setColleagues(data.operators)).catch(onError);
    readColleagues();
    api("GET", "/api/console/teams").then((data) => setTeams(data.teams)).catch(onError);
    return subscribe ? subscribe((event) => { if (COLLEAGUES_CHANGE_ON.has(event.name)) readColleagues(); }) : undefined;
  }, []);
  async function submit(e) {
    e.preventDefault();
    const [kind, value] = target.split(":");
    const body = kind === "op" ? { to_operator_id: value, note } : { to_team: value, note };
    const label = kind === "op" ? (colleagues.find((c) => c.id === value) || {}).display_name : teamTitle(teams.find((t) => t.name === value) || { name: value });
    try {
      await api("POST", "/api/console/conversations/" + id + "/transfer", body);
      await onDone({ kind: "ok", text: tr.t("banner.transferred", { to: label }) });
    } catch (err) { onError(err); }
  }
  return (
    <form id="transfer-form" class="transfer" onSubmit={submit}>
      <label>{tr.t("actions.transferTarget")}
        <select id="transfer-target" value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
          {teams.map((team) => <option value={"team:" + team.name} key={team.name}>{teamTitle(team)}</option>)}
          {(colleagues || []).map((op) => (
            <option value={"op:" + op.id} key={op.id}>{op.display_name} — {tr.word("opStatus", op.status)}, {op.active}/{op.capacity}</option>
          ))}
        </select>
      </label>
      <label>{tr.t("actions.transferNote")}
        <input id="transfer-note" value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </label>
      <button type="submit" id="transfer">{tr.t("actions.transfer")}</button>
    </form>
  );
}
