// The rows of a refused CSV file, each with why it was refused (nothing of the file was imported).
import { useLanguage } from "../../lib/i18n.js";
import { tr } from "../tr.js";

export function CsvErrors({ rows }) {
  useLanguage();
  if (!rows || !rows.length) return null;
  return (
    <div class="csv-errors" role="alert" id="csv-errors">
      <p>{tr.t("form.badCsv")}</p>
      <ul>
        {rows.map((r) => (
          <li key={r.row} data-row={r.row}>
            {tr.t("form.badRow", { row: r.row, value: r.value ?? "", reason: tr.word("csvReason", r.reason) })}
          </li>
        ))}
      </ul>
    </div>
  );
}
