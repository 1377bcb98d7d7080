import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export interface SelfSignedCertificateArgs {
  /** The names of the certificate, the first its subject. */
  readonly domains: readonly string[];
}

/** A year: within what browsers accept for a server certificate (398 days). */
const CERTIFICATE_HOURS = 365 * 24;
/** `pulumi up` replaces the certificate once fewer than 30 days are left. */
const EARLY_RENEWAL_HOURS = 30 * 24;
/** Ten years: the CA outlives many certificates, so clients keep trusting the same file. */
const CA_HOURS = 10 * 365 * 24;

/**
 * A private CA and a server certificate it signs, made by the tls provider: clients trust the
 * CA (`curl --cacert`), and the certificate can be replaced without them noticing.
 */
export class SelfSignedCertificate extends pulumi.ComponentResource {
  /** The CA's certificate (PEM): what clients trust. */
  public readonly caCertificate: pulumi.Output<string>;
  /** The server certificate, then the CA's (PEM). */
  public readonly chain: pulumi.Output<string>;
  /** The server certificate's private key (PEM, a secret). */
  public readonly privateKey: pulumi.Output<string>;

  constructor(name: string, args: SelfSignedCertificateArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("traffic-distributor:index:SelfSignedCertificate", name, {}, opts);
    const parent = { parent: this };
    const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, parent);
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        subject: { commonName: `${name} CA` },
        validityPeriodHours: CA_HOURS,
        allowedUses: ["cert_signing", "crl_signing"],
      },
      parent,
    );
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, parent);
    const request = new tls.CertRequest(
      `${name}-request`,
      { privateKeyPem: key.privateKeyPem, subject: { commonName: args.domains[0] }, dnsNames: [...args.domains] },
      parent,
    );
    const certificate = new tls.LocallySignedCert(
      `${name}-certificate`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: CERTIFICATE_HOURS,
        earlyRenewalHours: EARLY_RENEWAL_HOURS,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
      },
      parent,
    );
    this.caCertificate = ca.certPem;
    this.chain = pulumi.interpolate`${certificate.certPem}${ca.certPem}`;
    this.privateKey = pulumi.secret(key.privateKeyPem);
    this.registerOutputs({ caCertificate: this.caCertificate, chain: this.chain });
  }
}
