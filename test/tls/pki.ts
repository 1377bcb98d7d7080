// A throwaway CA and server certificate made with openssl for the HTTPS tests, and the
// certificate directory HAProxy loads (one file: the chain, then the key).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CERTIFICATE_FILE_NAME } from "../../components/tlsListener";
import { tempDir } from "../haproxy";

export interface TestPki {
  readonly dir: string;
  /** The CA's certificate: what `curl --cacert` trusts. */
  readonly caPath: string;
  /** The directory of HAProxy's certificate file. */
  readonly certificateDir: string;
  /** The server's chain (certificate, CA) and key, as PEM text. */
  readonly chain: string;
  readonly key: string;
}

/** An EC P-256 CA and a 90-day certificate for `names` (DNS) and `addresses`, signed by it. */
export function makeTestPki(names: string[] = ["localhost"], addresses: string[] = ["127.0.0.1"]): TestPki {
  const dir = tempDir("pki");
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
    "-days", "90", "-subj", "/CN=traffic-distributor test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr",
    "-subj", `/CN=${names[0]}`);
  fs.writeFileSync(
    file("ext.cnf"),
    `subjectAltName=${[...names.map((n) => `DNS:${n}`), ...addresses.map((a) => `IP:${a}`)].join(",")}\ncrlDistributionPoints=URI:http://crl.invalid/test-ca.crl\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n`,
  );
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "89", "-extfile", "ext.cnf");
  const chain = fs.readFileSync(file("server.pem"), "utf8") + fs.readFileSync(file("ca.pem"), "utf8");
  const key = fs.readFileSync(file("server.key"), "utf8");
  const certificateDir = file("certs");
  fs.mkdirSync(certificateDir, { mode: 0o700 });
  fs.writeFileSync(path.join(certificateDir, CERTIFICATE_FILE_NAME), chain + key, { mode: 0o600 });
  return { dir, caPath: file("ca.pem"), certificateDir, chain, key };
}
