// The API reference page: Swagger UI (pinned in package.json, bundled here, no CDN) rendering the
// gateway's own OpenAPI document. Served at /api/docs under the staff pages' CSP (no inline script).
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-es-bundle.js";
import "swagger-ui-dist/swagger-ui.css";

SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#api",
  deepLinking: true,
  // Nothing leaves the gateway: no online validator badge, no "try it out" against other servers.
  validatorUrl: null,
  supportedSubmitMethods: [],
});
