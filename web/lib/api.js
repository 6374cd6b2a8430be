// JSON over fetch for the staff APIs: the session cookie plus the CSRF token on every change.
let csrf = "";

export function setCsrf(token) { csrf = token || ""; }

export class ApiError extends Error {
  constructor(message, status, code, params, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.params = params;
    // The whole error answer: some carry details beyond the message (a CSV's bad rows, a state).
    this.body = body || {};
  }
}

export async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  let resp;
  try {
    resp = await fetch(path, { method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined });
  } catch (err) {
    throw new ApiError(String(err), 0, "network");
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(data.error || resp.statusText, resp.status, data.code || codeOf(resp.status), data.params, data);
  return data;
}

// Errors of the shared staff sign-in and session layer come without a code; their status tells them apart.
function codeOf(status) {
  if (status === 401) return "signed_out";
  if (status === 403) return "forbidden";
  return undefined;
}
