// The operator console's entry: signs in, then shows the workspace.
import { render } from "preact";
import { App } from "./App.jsx";

render(<App />, document.getElementById("app"));
