// Hooks the console's components share.
import { useEffect, useState } from "preact/hooks";

/** The current time, refreshed every `ms` (waiting times tick with it). */
export function useNow(ms = 1000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
