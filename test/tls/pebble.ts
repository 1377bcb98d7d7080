// Debian's pebble, the ACME test CA, for the ACME tests: its challenge test server answers DNS
// for every name with 127.0.0.1, so pebble validates HTTP-01 on the given port of this host (the
// distributor's plain HTTP port); no validation is skipped.
import * as fs from "fs";
import * as path from "path";
import { freePort, runScript, sleep } from "../harness";
import { tempDir } from "../haproxy";
import { httpsGet } from "./clients";
import { TestPki } from "./pki";

export interface Pebble {
  /** Port of the ACME API (`https://<address>:<port>/dir`). */
  readonly port: number;
  /** The CA that vouches for the API's own certificate (what lego must trust). */
  readonly apiCa: string;
  /** The root that issued certificates chain to, as PEM. */
  root(): Promise<string>;
}

/**
 * Starts pebble and its DNS (processes stopped by the harness's `stopAll`) and waits for its
 * directory to answer. `listenAddress` 0.0.0.0 lets a container reach it on its network's gateway.
 */
export async function startPebble(options: { apiPki: TestPki; httpPort: number; listenAddress?: string }): Promise<Pebble> {
  const dnsPort = await freePort();
  runScript(
    ["-c", 'exec "$@"', "sh", "pebble-challtestsrv", "-dns01", `127.0.0.1:${dnsPort}`, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
      "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", `127.0.0.1:${await freePort()}`],
    process.env, "", { timeoutMs: 600_000 },
  );
  const port = await freePort();
  const managementPort = await freePort();
  const dir = tempDir("pebble");
  fs.writeFileSync(
    path.join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `${options.listenAddress ?? "127.0.0.1"}:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: path.join(options.apiPki.dir, "server.pem"),
        privateKey: path.join(options.apiPki.dir, "server.key"),
        httpPort: options.httpPort,
        tlsPort: await freePort(),
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  runScript(["-c", 'exec "$@"', "sh", "pebble", "-config", path.join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`],
    // No sleeps before validation, no nonce rejections, a fresh validation on every order.
    { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" }, "", { timeoutMs: 600_000 });
  const apiCa = fs.readFileSync(options.apiPki.caPath, "utf8");
  for (const deadline = Date.now() + 20_000; ; await sleep(200)) {
    try {
      if ((await httpsGet(port, apiCa, { path: "/dir", servername: "localhost" })).status === 200) break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
  return {
    port,
    apiCa,
    async root() {
      const answer = await httpsGet(managementPort, apiCa, { path: "/roots/0", servername: "localhost" });
      if (answer.status !== 200) throw new Error(`pebble's root: status ${answer.status}`);
      return answer.body;
    },
  };
}
