// The SSM Command document that installs the distributor's certificate file on its instance,
// before the config that loads it. The file (the chain, then the private key) lives in a
// SecureString parameter only this distributor's role may read: it never appears in user data,
// in the document or in plain state, and on the host it is written 0600 into HAProxy's
// certificate directory, on the encrypted root volume.
import { DELIVER_CERTIFICATE_SCRIPT } from "../docker/scripts";
import { PARAMETER_LOCATION, WAIT_FOR_DISTRIBUTOR } from "./configDocument";
import { PARAMETER_MAX_BYTES } from "./configParameter";
import { DISTRIBUTOR_CONTAINER } from "./userData";
import { renderShellDocument } from "./shellDocument";

/** Seconds one installation may take: a new instance's first boot, then a file copy. */
export const CERTIFICATE_TIMEOUT_SECONDS = 900;

/**
 * The script SSM runs as root on the distributor. It reads the parameter version Pulumi wrote
 * and hands it to the same deliver-certificate.sh the Docker target uses (written by HAProxy's
 * user, renamed over the old file). With `keepExisting` (acme), a file already there is the
 * ACME client's certificate, and the placeholder is not installed over it.
 */
export function renderCertificateScript(keepExisting: boolean): string {
  return `#!/bin/sh
# traffic-distributor: install certificate version {{ parameterVersion }} of {{ parameterName }}.
set -eu
say() { printf 'traffic-distributor: %s\\n' "$*" >&2; }

${WAIT_FOR_DISTRIBUTOR}
umask 077
script=$(mktemp)
file=$(mktemp)
trap 'rm -f "$script" "$file"' EXIT
# The value is never printed: only the installer's message is.
if ! aws ssm get-parameter --region '{{ region }}' --name '{{ parameterName }}:{{ parameterVersion }}' \\
  --with-decryption --query Parameter.Value --output text > "$file"; then
  say "could not read parameter {{ parameterName }} version {{ parameterVersion }}; the served certificate is unchanged"
  exit 1
fi
cat > "$script" <<'DELIVER_CERTIFICATE'
${DELIVER_CERTIFICATE_SCRIPT.trimEnd()}
DELIVER_CERTIFICATE
CONTAINER=${DISTRIBUTOR_CONTAINER} KEEP_EXISTING=${keepExisting ? "1" : ""} sh "$script" < "$file"
`;
}

/** SSM Command document (schema 2.2) content, as JSON text; the parameters are the config document's. */
export function renderCertificateDocument(keepExisting: boolean): string {
  return renderShellDocument({
    description: "traffic-distributor: install the HTTPS certificate file HAProxy loads",
    parameters: Object.fromEntries(
      Object.entries(PARAMETER_LOCATION).map(([name, spec]) => [name, { ...spec, description: spec.description.replace("the config", "the certificate") }]),
    ),
    stepName: "installCertificate",
    timeoutSeconds: CERTIFICATE_TIMEOUT_SECONDS,
    script: renderCertificateScript(keepExisting),
  });
}

/**
 * Refuses a certificate file larger than a parameter holds (8 KB, advanced tier; up to 4 KB it
 * stays standard). An ECDSA chain and key take about 1.5 KB; an RSA-2048 leaf, its intermediate
 * and key about 4 KB; RSA-4096 with a root certificate about 8.8 KB, too much. With `selfSigned`
 * and `acme` (its placeholder) the certificate is made here and its size comes from the names:
 * the message names `tls.domains` then, the certificate only when the user provided it.
 */
export function checkCertificateFitsParameter(
  file: string,
  labels: { certificate: string; privateKey: string; domains?: string },
  mode: "provided" | "selfSigned" | "acme" = "provided",
): string {
  const size = Buffer.byteLength(file);
  if (size > PARAMETER_MAX_BYTES && mode !== "provided") {
    const made = mode === "acme" ? "the placeholder certificate (until the CA's first one) and its key" : "the self-signed certificate and its key";
    throw new Error(
      `${labels.domains ?? "tls.domains"}: ${made}, made for these names, take ${size} bytes, more than the ${PARAMETER_MAX_BYTES} an SSM parameter holds (values hidden): ` +
        "list fewer or shorter names",
    );
  }
  if (size > PARAMETER_MAX_BYTES) {
    throw new Error(
      `${labels.certificate} and ${labels.privateKey} take ${size} bytes, more than the ${PARAMETER_MAX_BYTES} an SSM parameter holds (values hidden): ` +
        "leave the root certificate out of the chain, or use an ECDSA key",
    );
  }
  return file;
}
