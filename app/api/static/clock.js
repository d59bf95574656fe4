// The server's clock as the pages see it: an offset learnt from a sale's `server_time`, never the browser's own time.
let offset = Number(sessionStorage.getItem("flashsale.offset") || 0);

export function learn(serverTime) {
  offset = Date.parse(serverTime) - Date.now();
  sessionStorage.setItem("flashsale.offset", String(offset));
}

export const now = () => Date.now() + offset;

export function left(untilIso) {
  const ms = Date.parse(untilIso) - now();
  if (ms <= 0) return "0s";
  const s = Math.ceil(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? `${h}h ` : "") + (h || m ? `${m}m ` : "") + `${s % 60}s`;
}
