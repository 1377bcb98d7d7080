// The tls provider under Pulumi's mocks: real keys and certificates made with openssl, so a
// mocked program's certificate loads in a real HAProxy. The same inputs give the same PEM
// within a process, as the provider keeps a resource's outputs until its inputs change.
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { tempDir } from "./haproxy";

export const TLS_PROVIDER_INPUTS: Record<string, Set<string>> = {
  "tls:index/privateKey:PrivateKey": new Set(["algorithm", "ecdsaCurve", "rsaBits"]),
  "tls:index/selfSignedCert:SelfSignedCert": new Set(["privateKeyPem", "isCaCertificate", "subject", "validityPeriodHours", "allowedUses", "dnsNames", "earlyRenewalHours"]),
  "tls:index/certRequest:CertRequest": new Set(["privateKeyPem", "subject", "dnsNames", "ipAddresses"]),
  "tls:index/locallySignedCert:LocallySignedCert": new Set(["certRequestPem", "caPrivateKeyPem", "caCertPem", "validityPeriodHours", "earlyRenewalHours", "allowedUses"]),
};

const made = new Map<string, Record<string, unknown>>();

function openssl(dir: string, args: string[], input?: string): string {
  return execFileSync("openssl", args, { cwd: dir, input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

/** The runtime's mark of a secret value, as the mocks receive it. */
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";

/** A value with its secrets unwrapped (the mocks receive them wrapped). */
/** A value as the mock runtime passes a secret: wrapped, with the secret signature beside it. */
export function isWrappedSecret(value: unknown): value is { value: unknown } {
  return value !== null && typeof value === "object" && Object.values(value).includes(SECRET_SIGNATURE) && "value" in value;
}

/** The names of the inputs that arrive as secrets. */
export function secretInputNames(inputs: Record<string, unknown>): string[] {
  return Object.keys(inputs).filter((key) => isWrappedSecret(inputs[key]));
}

export function unwrapSecrets(value: any): any {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value === null || typeof value !== "object") return value;
  if (isWrappedSecret(value)) return unwrapSecrets(value.value);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
}

/** The outputs of a tls provider resource, or undefined for another type. */
export function tlsProviderState(type: string, name: string, wrapped: Record<string, any>): Record<string, unknown> | undefined {
  if (!(type in TLS_PROVIDER_INPUTS)) return undefined;
  const inputs = unwrapSecrets(wrapped);
  const key = createHash("sha256").update(JSON.stringify([type, name, inputs])).digest("hex");
  const cached = made.get(key);
  if (cached) return cached;
  const dir = tempDir("tls-provider");
  const file = (n: string, text: string) => (fs.writeFileSync(path.join(dir, n), text), n);
  const days = String(Math.max(1, Math.ceil(Number(inputs.validityPeriodHours ?? 24) / 24)));
  let state: Record<string, unknown>;
  switch (type) {
    case "tls:index/privateKey:PrivateKey":
      state = { privateKeyPem: openssl(dir, ["ecparam", "-genkey", "-name", "prime256v1", "-noout"]) };
      break;
    case "tls:index/selfSignedCert:SelfSignedCert": {
      const ca = inputs.isCaCertificate ? ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"] : [];
      state = { certPem: openssl(dir, ["req", "-x509", "-key", file("key.pem", inputs.privateKeyPem), "-subj", `/CN=${inputs.subject.commonName}`, "-days", days, ...ca]) };
      break;
    }
    case "tls:index/certRequest:CertRequest": {
      const names = (inputs.dnsNames ?? []).map((n: string) => `DNS:${n}`).join(",");
      state = { certRequestPem: openssl(dir, ["req", "-new", "-key", file("key.pem", inputs.privateKeyPem), "-subj", `/CN=${inputs.subject.commonName}`, ...(names ? ["-addext", `subjectAltName=${names}`] : [])]) };
      break;
    }
    default: {
      file("ext.cnf", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
      state = {
        certPem: openssl(dir, ["x509", "-req", "-in", file("csr.pem", inputs.certRequestPem), "-CA", file("ca.pem", inputs.caCertPem), "-CAkey", file("ca.key", inputs.caPrivateKeyPem),
          "-CAcreateserial", "-days", days, "-copy_extensions", "copy", "-extfile", "ext.cnf"]),
      };
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  made.set(key, state);
  return state;
}
