// Opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each, keeps them open and
// idle. Prints one JSON line once every connection has its answer (or after LIMIT_MS), then
// holds them until stdin closes or SIGTERM. Run under a raised `ulimit -n`.
// Usage: node idleClients.js PORT COUNT LIMIT_MS
const net = require("net");
const [port, count, limitMs] = process.argv.slice(2).map(Number);
const sockets = [];
let answered = 0;
let failed = 0;
let started = 0;
let reported = false;
const began = Date.now();

function report() {
  if (reported) return;
  reported = true;
  process.stdout.write(`${JSON.stringify({ answered, failed, ms: Date.now() - began })}\n`);
}

function open() {
  if (started >= count) return;
  started++;
  const socket = net.connect(port, "127.0.0.1");
  sockets.push(socket);
  let done = false;
  const finish = (ok) => {
    if (done) return;
    done = true;
    if (ok) answered++;
    else failed++;
    if (answered + failed === count) report();
    open();
  };
  socket.once("connect", () => socket.write("GET / HTTP/1.1\r\nHost: bench\r\n\r\n"));
  socket.once("data", () => finish(true));
  socket.on("error", () => finish(false));
  socket.on("close", () => finish(false));
}

// A few hundred in flight at a time: the proxy's accept queue is not the thing measured.
for (let i = 0; i < Math.min(200, count); i++) open();
setTimeout(report, limitMs).unref();
const end = () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
};
process.stdin.on("end", end);
process.stdin.resume();
process.on("SIGTERM", end);
