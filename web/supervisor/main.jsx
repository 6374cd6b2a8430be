// The supervisor page's entry: signs in, then shows the dashboard.
import { render } from "preact";
import { App } from "./App.jsx";

render(<App />, document.getElementById("app"));
