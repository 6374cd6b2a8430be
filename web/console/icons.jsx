// Channel icons as inline SVG (emoji fonts are missing on many operator desktops and in headless browsers).
const PATHS = {
  webchat: "M3 4h14a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H9l-4 3v-3H3a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
  telegram: "M2 10.5 18 3l-3 15-5-4-3 3v-5l8-7-10 6z",
  voice: "M5 2h3l2 5-2 1.5a11 11 0 0 0 5.5 5.5L15 12l5 2v3a2 2 0 0 1-2 2A16 16 0 0 1 3 4a2 2 0 0 1 2-2z",
  rest: "M4 5h12v2H4zm0 4h12v2H4zm0 4h8v2H4z",
};

export function ChannelSvg({ channel }) {
  return (
    <svg class="icon" viewBox="0 0 21 21" width="16" height="16" aria-hidden="true" focusable="false">
      <path d={PATHS[channel] || PATHS.rest} fill="currentColor" />
    </svg>
  );
}
