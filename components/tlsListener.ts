// The HTTPS parts of the HAProxy config: TLS defaults in `global`, the TLS bind and the plain
// HTTP redirect in the public frontend, and the backend of the ACME client's HTTP-01 answers.
// Certificates are files in a directory HAProxy loads (`crt <dir>/`): never in the config text.
import { formatServer, ServerAddress } from "./settings";

/** HTTPS as the renderer sees it. */
export interface TlsListenerInput {
  /** The port clients reach HTTPS on (the published port): where plain HTTP redirects to. */
  readonly publicPort: number;
  /** Strict-Transport-Security max-age in seconds; 0 sends no header. */
  readonly hsts: number;
  /** Where the ACME client answers HTTP-01 challenges; absent, challenges are redirected like the rest. */
  readonly acmeChallenge?: ServerAddress;
  /**
   * SHA-256 fingerprint of the certificate the config is delivered with: a new certificate
   * changes the config, so its delivery reloads HAProxy, which then reads the new file.
   */
  readonly certificateFingerprint?: string;
}

/** Where HTTPS binds, beside the placement's plain HTTP listener. */
export interface TlsPlacement {
  readonly tlsPort: number;
  /** Directory of the certificate files (each the chain, then its key). */
  readonly certificateDir: string;
}

/**
 * Inside the distributor container: HTTPS on 8443 (published on `tls.port`); certificates in
 * the directory HAProxy's user owns, written as that user (the container has no capability to
 * hand a file to another owner).
 */
export const CONTAINER_TLS_PLACEMENT: TlsPlacement = {
  tlsPort: 8443,
  certificateDir: "/var/lib/haproxy/certs",
};

/** The certificate file of the distributor in its directory (the ACME client replaces it in place). */
export const CERTIFICATE_FILE_NAME = "site.pem";

export const ACME_CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

/**
 * TLS 1.2 and 1.3 only, forward-secret AEAD ciphers (Mozilla's "intermediate" profile without
 * the DHE suites, which need extra parameters and add nothing for current clients).
 */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
];
export const TLS13_CIPHERSUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];

/** Lines of `global`: the TLS defaults every TLS bind takes. */
export function tlsGlobalLines(): string[] {
  return [
    `ssl-default-bind-ciphers ${TLS12_CIPHERS.join(":")}`,
    `ssl-default-bind-ciphersuites ${TLS13_CIPHERSUITES.join(":")}`,
    // Session tickets are encrypted with a key that lives as long as the worker: without them,
    // a stolen key cannot decrypt recorded sessions (forward secrecy holds).
    "ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
  ];
}

const IS_ACME_CHALLENGE = `{ path_beg ${ACME_CHALLENGE_PREFIX} }`;

/** The backend that reaches the ACME client. */
export const ACME_BACKEND = "acme_challenge";

/**
 * Lines of the public frontend: the TLS bind, the scheme for the app, HSTS, and the redirect
 * of plain HTTP to HTTPS (except ACME challenges, which reach the ACME client).
 */
export function tlsFrontendLines(bindAddress: string, tls: TlsListenerInput, placement: TlsPlacement): string[] {
  // The Host header without its port, then the HTTPS port unless it is the default one.
  const location =
    tls.publicPort === 443
      ? "https://%[req.hdr(host),regsub(:[0-9]+$,)]%[capture.req.uri]"
      : `https://%[req.hdr(host),regsub(:[0-9]+$,)]:${tls.publicPort}%[capture.req.uri]`;
  return [
    `bind ${bindAddress}:${placement.tlsPort} ssl crt ${placement.certificateDir}/ alpn h2,http/1.1 ssl-min-ver TLSv1.2`,
    "http-request set-header X-Forwarded-Proto https if { ssl_fc }",
    "http-request set-header X-Forwarded-Proto http unless { ssl_fc }",
    // 308 keeps the method and body of a POST sent to the plain port.
    ...(tls.acmeChallenge
      ? [
          `use_backend ${ACME_BACKEND} if !{ ssl_fc } ${IS_ACME_CHALLENGE}`,
          `http-request redirect location ${location} code 308 unless { ssl_fc } || ${IS_ACME_CHALLENGE}`,
        ]
      : [`http-request redirect location ${location} code 308 unless { ssl_fc }`]),
    ...(tls.hsts > 0 ? [`http-response set-header Strict-Transport-Security max-age=${tls.hsts} if { ssl_fc }`] : []),
  ];
}

/** Lines of the ACME client's backend: one server, the client's HTTP-01 listener. */
export function acmeBackendLines(server: ServerAddress): string[] {
  return ["timeout server 10s", `server acme ${formatServer(server)}`];
}
