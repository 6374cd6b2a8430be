// The outbound campaigns API (docs/outbound-api.md) as the Campaigns section calls it.
import { api } from "../../lib/api.js";
import { errorText } from "../../lib/i18n.js";
import { tr } from "../tr.js";

const BASE = "/api/supervisor/campaigns";
const one = (id) => BASE + "/" + encodeURIComponent(id);

export const campaigns = {
  meta: () => api("GET", BASE + "/meta"),
  list: () => api("GET", BASE),
  get: (id) => api("GET", one(id)),
  create: (body) => api("POST", BASE, body),
  preview: (id, customerId) => api("GET", one(id) + "/preview" + (customerId ? "?customer_id=" + encodeURIComponent(customerId) : "")),
  forecast: (id) => api("GET", one(id) + "/forecast"),
  results: (id) => api("GET", one(id) + "/results"),
  attempts: (id, limit) => api("GET", one(id) + "/attempts?limit=" + limit),
  act: (id, action) => api("POST", one(id) + "/" + action),
  exportUrl: (id) => one(id) + "/export.csv",
};

/** An API error about a campaign in the UI language (a 409 names the campaign's state). */
export function campaignError(err) {
  if (err && err.code === "not_found") return { text: tr.t("campaigns.notFound") };
  if (err && err.code === "bad_state") return { text: tr.t("error.bad_state", { state: tr.word("cstate", err.body.state) }) };
  return errorText(tr, err);
}

/** Attempts still on their way: waiting for their time, queued or being sent. */
export function queuedCount(counts) {
  const c = counts || {};
  return (c.planned || 0) + (c.queued || 0) + (c.sending || 0);
}

export function totalCount(counts) {
  return Object.values(counts || {}).reduce((sum, n) => sum + (n || 0), 0);
}
