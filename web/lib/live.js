// The staff pages' live feed: one websocket to /api/console/live that replays missed events by `after`
// and reconnects after a drop. onEvent gets every event once (deduplicated by id); onState gets
// "live" | "reconnecting".
export function connectLive({ after, onEvent, onState }) {
  const seen = new Set();
  let lastSeq = after || 0;
  let socket = null;
  let stopped = false;

  function open() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(proto + "//" + location.host + "/api/console/live?after=" + lastSeq);
    socket.addEventListener("message", (msg) => {
      const data = JSON.parse(msg.data);
      if (data.type === "ready") onState("live");
      if (data.type !== "event") return;
      const event = data.event;
      if (seen.has(event.id)) return;
      seen.add(event.id);
      if (event.seq && event.seq > lastSeq) lastSeq = event.seq;
      onEvent(event);
    });
    socket.addEventListener("close", () => {
      if (stopped) return;
      onState("reconnecting");
      setTimeout(open, 1000);
    });
  }
  open();
  return {
    drop() { if (socket) socket.close(); },
    stop() { stopped = true; if (socket) socket.close(); },
  };
}
