// The console's URL: /console for the inbox, /console/c/<conversation id> for one conversation, so a
// reload or a shared link opens the same conversation.
import { useEffect, useState } from "preact/hooks";

const PREFIX = "/console/c/";

function fromPath() {
  return location.pathname.startsWith(PREFIX) ? decodeURIComponent(location.pathname.slice(PREFIX.length)) : null;
}

const listeners = new Set();
window.addEventListener("popstate", () => { for (const fn of listeners) fn(fromPath()); });

export function openConversation(id) {
  const path = id ? PREFIX + encodeURIComponent(id) : "/console";
  if (location.pathname !== path) history.pushState(null, "", path);
  for (const fn of listeners) fn(id);
}

export function conversationHref(id) { return PREFIX + encodeURIComponent(id); }

export function useRoute() {
  const [id, setId] = useState(fromPath());
  useEffect(() => { listeners.add(setId); return () => listeners.delete(setId); }, []);
  return id;
}
