// The operator console's entry: signs in, then shows the workspace.
import { render } from "preact";
import { App } from "./App.jsx";
import { probeSound } from "./alerts.js";

// Probe the sound before anything renders: a probe in an effect runs after paint, and anything the page counts
// as the operator's gesture meanwhile would make a blocked sound look allowed.
probeSound();

render(<App />, document.getElementById("app"));
