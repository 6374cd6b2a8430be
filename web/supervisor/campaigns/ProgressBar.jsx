// How far a campaign has got: attempts done (sent, failed, suppressed...) of all attempts, as a bar and words.
import { useLanguage } from "../../lib/i18n.js";
import { number } from "../format.js";
import { tr } from "../tr.js";
import { queuedCount, totalCount } from "./api.js";

export function ProgressBar({ counts }) {
  useLanguage();
  const total = totalCount(counts);
  const done = total - queuedCount(counts);
  const label = tr.t("progress.label", { done: number(done, 0), total: number(total, 0) });
  return (
    <div class="progress">
      <progress max={Math.max(total, 1)} value={done} aria-label={label} />
      <span class="hint">{label}</span>
    </div>
  );
}
