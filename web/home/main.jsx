// The front page's entry (local runs only; production redirects / to the web chat).
import { render } from "preact";
import { App } from "./App.jsx";

render(<App />, document.getElementById("app"));
