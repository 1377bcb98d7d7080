// The demo app of the Docker tests. Every answer names the color and version the image was
// built with (COLOR, VERSION) and the container, so a client can count the split.
//   /            "<color> <version> <host>"
//   /healthz     "ok" (HEALTHZ_STATUS: another status, e.g. 503 for a version that never gets healthy)
//   /slow?ms=N   the same answer after N ms (at most 60000)
//   /events      server-sent events: one event per second until the client leaves
// SIGTERM stops accepting and exits once the requests in flight are answered.
"use strict";
const http = require("http");
const os = require("os");

const identity = { color: process.env.COLOR || "none", version: process.env.VERSION || "none", host: os.hostname() };
const body = `${identity.color} ${identity.version} ${identity.host}\n`;
const streams = new Set();

function answer(res) {
  res.writeHead(200, { "content-type": "text/plain", "x-color": identity.color });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://app");
  if (url.pathname === "/healthz") {
    res.writeHead(Number(process.env.HEALTHZ_STATUS || 200), { "content-type": "text/plain" });
    res.end("ok\n");
  } else if (url.pathname === "/slow") {
    const ms = Math.min(Math.max(Number(url.searchParams.get("ms")) || 0, 0), 60000);
    setTimeout(() => answer(res), ms);
  } else if (url.pathname === "/events") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-color": identity.color });
    const send = () => res.write(`data: ${body}\n`);
    send();
    const timer = setInterval(send, 1000);
    streams.add(res);
    res.on("close", () => {
      clearInterval(timer);
      streams.delete(res);
    });
  } else {
    answer(res);
  }
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT || 80));

process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  // Idle keep-alive connections would hold close() open; streams end with the container.
  server.closeIdleConnections();
  for (const res of streams) res.end();
});
