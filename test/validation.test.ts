// Every bad input, through both ways in: the component's args and stack config. Each is refused
// with an error that names its key and says what is allowed, and nothing is registered.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { TrafficDistributor } from "../components/trafficDistributor";
import { ARG_LABELS, argsAtPaths, SettingPath, TrafficDistributorArgs, validateTrafficDistributorArgs } from "../components/trafficDistributorArgs";
import { CONFIG_KEYS, CONFIG_LABELS, configSourceFromMap, readStackConfig } from "../components/stackConfig";
import { SettingsError } from "../components/settings";
import { registered, settled, STATS_PASSWORD } from "./mocks";
import * as fs from "fs";
import * as path from "path";

/** PEM files made for these tests: a CA, a chain valid until 2123, an expired one (2020-2021), an unrelated key. */
const pem = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", "tls", name), "utf8");

interface BadInput {
  readonly path: SettingPath;
  readonly value: unknown;
  /** What the message must say is allowed. */
  readonly allowed: RegExp;
  /** Other settings the case needs, as arg paths (e.g. target "aws"). */
  readonly with?: Partial<Record<SettingPath, unknown>>;
  /** The value is a secret: the message must not show it. */
  readonly secret?: boolean;
}

const WHOLE = (min: number, max: number) => new RegExp(`must be a whole number from ${min} to ${max}$`);
const DURATION = /must be a duration with a unit \(ms, s, m or h\), e\.g\. "500ms" or "30s", from \S+ to \S+$/;
const CHOICE = (...choices: string[]) => new RegExp(`must be one of ${choices.map((c) => `"${c}"`).join(", ")}$`);
const AWS = { target: "aws" } as const;

const badWeights = [-1, 257, 1.5, "abc", "0x10", "1e2", NaN, Infinity, true, "5 5", "-0.5", [1]];
const badDurations = ["5", "0s", "1 s", "1e3ms", "2d", "1.5s", "s", "-1s", "10sec", "1h30m", 30, "30S"];
const injections = ["x\nstats admin if TRUE", "x'\n  program evil", "x # y", "x\r\ny", "a b"];

const cases: BadInput[] = [
  ...(["weight.blue", "weight.green"] as const).flatMap((path) => badWeights.map((value) => ({ path, value, allowed: WHOLE(0, 256) }))),
  ...["random", "Round-Robin", "sticky ", 5, "failover\nx"].map((value) => ({ path: "routing" as const, value, allowed: CHOICE("round-robin", "sticky", "failover") })),
  ...["red", "BLUE", 1].map((value) => ({ path: "failover.primary" as const, value, allowed: CHOICE("blue", "green"), with: { routing: "failover" } })),
  { path: "failover.primary", value: "blue", allowed: /a primary color applies only to routing "failover"$/ },
  ...["kubernetes", "AWS", 1, "docker\n"].map((value) => ({ path: "target" as const, value, allowed: CHOICE("docker", "aws") })),
  ...(["blue", "green"] as const).flatMap((color) => [
    ...["UPPER/case:1", "a b", "nginx:", "-bad", "nginx:1.27\nprogram x", "nginx:1.27 #", "Nginx:1.27", "localhost:x/app"].map((value) => ({
      path: `${color}.image` as const,
      value,
      allowed: /must be a Docker image reference/,
    })),
    ...[0, 21, -1, 2.5, "two"].map((value) => ({ path: `${color}.replicas` as const, value, allowed: WHOLE(1, 20) })),
    ...[0, 65536, -1, "80a"].map((value) => ({ path: `${color}.port` as const, value, allowed: WHOLE(1, 65535) })),
    ...[0, 15, 2_000_000, "lots"].map((value) => ({ path: `${color}.memoryMb` as const, value, allowed: WHOLE(16, 1048576) })),
    ...[["10.0.0.5"], ["host:0"], ["a b:80"], ["x:80\nserver evil 1.2.3.4:80"], ["x:80 backup"], [5], ["[::1:80"], ["x#y:80"]].map(
      (value) => ({ path: `${color}.servers` as const, value, allowed: /must be "host:port" with a DNS name/ }),
    ),
    { path: `${color}.servers` as const, value: ["a.internal:80", "A.internal:80"], allowed: /repeats .*\[0\] \("a\.internal:80"\): list each one once$/ },
    { path: `${color}.servers` as const, value: [], allowed: /list at least one "host:port"/ },
  ]),
  { path: "green.servers", value: ["10.0.0.5:80"], with: { "blue.servers": ["10.0.0.5:80"] }, allowed: /both list "10\.0\.0\.5:80": each server belongs to one color$/ },
  ...["health", "/a b", "/x\nstats admin if TRUE", "/#x", "/$x", "/'x'", '/"', "/\\", "/a\tb"].map((value) => ({
    path: "healthCheck.path" as const,
    value,
    allowed: /must be an HTTP path starting with "\/"/,
  })),
  ...["a b", "x\ny", "-bad-", "under_score.example", "10.0.0.1", "host:80", "%[srv_name]"].map((value) => ({
    path: "healthCheck.host" as const,
    value,
    allowed: /must be a DNS name/,
  })),
  ...[...badDurations, "2h"].map((value) => ({ path: "healthCheck.interval" as const, value, allowed: DURATION })),
  ...["90s", "50ms", "1 s", "2m"].map((value) => ({ path: "healthCheck.timeout" as const, value, allowed: DURATION })),
  ...["600", "099", "abc", "300-200", "200,", "2xx", "200 OR 1", "200\nx", "200-"].map((value) => ({
    path: "healthCheck.expectStatus" as const,
    value,
    allowed: /must be HTTP status codes \(100-599\) or ranges/,
  })),
  ...(["connect", "client", "server", "tunnel", "drain"] as const).flatMap((key) =>
    [...badDurations.slice(0, 8), { connect: "2m", client: "2h", server: "2h", tunnel: "25h", drain: "25h" }[key]].map((value) => ({
      path: `timeouts.${key}` as const,
      value,
      allowed: DURATION,
    })),
  ),
  ...[...badDurations.slice(0, 8), "16m"].map((value) => ({ path: "gate.timeout" as const, value, allowed: /must be a duration with a unit .* from 1s to 15m$/ })),
  ...[...badDurations.filter((v) => v !== "0s").slice(0, 8), "31m", "1h"].map((value) => ({ path: "gate.bake" as const, value, allowed: /must be a duration with a unit .* from 0s to 30m$/ })),
  ...[0, "0", 257, "0%", "101%", "50 %", "%", "1.5", "-1", "all", "2\nx", true].map((value) => ({
    path: "gate.minHealthy" as const,
    value,
    allowed: /must be a count of servers from 1 to 256 \(e\.g\. 2\) or a percentage from 1% to 100% \(e\.g\. "50%"\)$/,
  })),
  ...[-1, "100.01", 101, "5%%", "0.001", "five", "1e1", ".5", NaN, "5\n"].map((value) => ({
    path: "gate.maxErrorRate" as const,
    value,
    allowed: /must be a percentage from 0 to 100 with at most two decimals, e\.g\. 5 or 0\.5$/,
  })),
  ...["yes", 1, "TRUE", "on"].map((value) => ({ path: "accessLog" as const, value, allowed: /must be true or false$/ })),
  ...[0, 70000, "http", -80].map((value) => ({ path: "listenPort" as const, value, allowed: WHOLE(1, 65535) })),
  { path: "listenPort", value: 22, allowed: /is 22: that is the port of SSH; choose another/ },
  { path: "listenPort", value: 3389, allowed: /is 3389: that is the port of RDP; choose another/ },
  { path: "listenPort", value: 8404, allowed: /are both 8404: they must differ$/ },
  ...[0, "x", 99999].map((value) => ({ path: "statsPort" as const, value, allowed: WHOLE(1, 65535) })),
  ...["short", "has space 123", "quote'inside", "new\nline12345", "x".repeat(129), "ünïcödé-pass", "tab\there123"].map((value) => ({
    path: "statsPassword" as const,
    value,
    secret: true,
    allowed: /is not allowed \(value hidden\): it must be 8 to 128 printable ASCII characters without spaces or single quotes$/,
  })),
  ...["Haproxy", "haproxy:2.6 ", "haproxy:3.2\nx", "a//b"].map((value) => ({ path: "distributor.image" as const, value, allowed: /must be a Docker image reference/ })),
  ...[8, "big", 2_000_000].map((value) => ({ path: "distributor.memoryMb" as const, value, allowed: WHOLE(16, 1048576) })),
  ...[0, 65, -1, 1.5, "all", "2\nnbthread 1"].map((value) => ({ path: "distributor.threads" as const, value, allowed: WHOLE(1, 64) })),
  ...[0, -1, 2.5, 250_001, "many", "100\nmaxconn 1"].map((value) => ({ path: "distributor.maxConnections" as const, value, allowed: WHOLE(1, 250000) })),
  // More than the memory holds, with the figures: docker's limit, the instance type's memory, TLS's and an earlier HAProxy's larger cost.
  {
    path: "distributor.maxConnections",
    value: 20_000,
    allowed:
      /is 20000: \S*distributor.?[mM]emoryMb \(256 MiB\) holds 12288 connections at 16 KiB each \(a request in flight\) beside 64 MiB for HAProxy's master and two workers; 20000 need 377 MiB: give the distributor more memory or allow at most 12288$/,
  },
  { path: "distributor.maxConnections", value: 6000, with: { "distributor.memoryMb": 128 }, allowed: /\(128 MiB\) holds 4096 connections at 16 KiB each/ },
  {
    path: "distributor.maxConnections",
    value: 50_000,
    with: { ...AWS, "aws.distributorInstanceType": "t3.micro" },
    allowed: /distributorInstanceType t3\.micro \(1024 MiB, 640 MiB after the system's 384\) holds 36864 connections at 16 KiB each/,
  },
  { path: "distributor.maxConnections", value: 5000, with: { "tls.mode": "selfSigned" }, allowed: /holds 4282 connections at 44 KiB each \(a request in flight\) beside 72 MiB/ },
  { path: "distributor.maxConnections", value: 10_000, with: { "distributor.image": "haproxy:3.2.26" }, allowed: /holds 6144 connections at 32 KiB each/ },
  { path: "distributor.memoryMb", value: 64, allowed: /\(64 MiB\) holds 0 connections at 16 KiB each \(a request in flight\) beside 64 MiB for HAProxy's master and two workers: give the distributor more memory$/ },

  ...["bad name", "-x", "a;rm -rf /", "net\nx"].map((value) => ({ path: "docker.network" as const, value, allowed: /must be the name of an existing Docker network/ })),
  { path: "docker.network", value: "shared", with: AWS, allowed: /it applies only to target "docker"$/ },
  { path: "distributor.memoryMb", value: 512, with: AWS, allowed: /it applies only to target "docker"$/ },
  ...["vpc-123", "vpc-XYZ0123456789abcd", "subnet-0123456789abcdef0"].map((value) => ({
    path: "aws.vpcId" as const,
    value,
    with: { ...AWS, "aws.subnetIds": ["subnet-0123456789abcdef0"] },
    allowed: /must be an ID such as "vpc-0123456789abcdef0"$/,
  })),
  ...[["subnet-xyz"], "subnet-0123456789abcdef0"].map((value) => ({
    path: "aws.subnetIds" as const,
    value,
    with: { ...AWS, "aws.vpcId": "vpc-0123456789abcdef0" },
    allowed: /must be (an ID such as "subnet-0123456789abcdef0"|a JSON list of subnet IDs)/,
  })),
  {
    path: "aws.subnetIds",
    value: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"],
    with: { ...AWS, "aws.vpcId": "vpc-0123456789abcdef0" },
    allowed: /repeats .*: list each one once$/,
  },
  ...["t3micro", "T3.micro", "t3.micro\n"].map((value) => ({ path: "aws.instanceType" as const, value, with: AWS, allowed: /must be an EC2 instance type/ })),
  ...["m7g", "c7"].map((value) => ({ path: "aws.distributorInstanceType" as const, value, with: AWS, allowed: /must be an EC2 instance type/ })),
  ...["ami-1", "ami-zzzzzzzz"].map((value) => ({ path: "aws.ami" as const, value, with: AWS, allowed: /must be an ID such as "ami-0123456789abcdef0"$/ })),
  ...[["10.0.0.1/24"], ["0.0.0.0/33"], ["everyone"], ["::/129"]].map((value) => ({
    path: "aws.ingressCidrs" as const,
    value,
    with: AWS,
    allowed: /(must be a CIDR block|has host bits set)/,
  })),
  { path: "aws.ingressCidrs", value: ["0.0.0.0/0", "0.0.0.0/0"], with: AWS, allowed: /repeats .*: list each one once$/ },
  ...["zone", "z123"].map((value) => ({ path: "dns.zoneId" as const, value, with: { ...AWS, "dns.name": "app.example.com" }, allowed: /must be a Route 53 hosted zone ID/ })),
  ...(["bad name", "10.0.0.1", "x\ny"] as const).map((value) => ({ path: "dns.name" as const, value, with: { ...AWS, "dns.zoneId": "Z0123456789ABC" }, allowed: /must be a DNS name/ })),
  ...[-1, 90000, "a"].map((value) => ({ path: "dns.ttl" as const, value, with: { ...AWS, "dns.zoneId": "Z0123456789ABC", "dns.name": "app.example.com" }, allowed: WHOLE(0, 86400) })),
  { path: "dns.aliases", value: ["www", "www"], with: { ...AWS, "dns.zoneId": "Z0123456789ABC", "dns.name": "app.example.com" }, allowed: /repeats .*: list each one once$/ },
  { path: "dns.aliases", value: ["app.example.com"], with: { ...AWS, "dns.zoneId": "Z0123456789ABC", "dns.name": "app.example.com" }, allowed: /itself: list only the other names$/ },
  ...["MX", "a"].map((value) => ({ path: "dns.recordType" as const, value, with: { ...AWS, "dns.zoneId": "Z0123456789ABC", "dns.name": "app.example.com" }, allowed: CHOICE("A", "CNAME") })),
  { path: "dns.takeOver", value: "yes", with: { ...AWS, "dns.zoneId": "Z0123456789ABC", "dns.name": "app.example.com" }, allowed: /must be true or false$/ },
  ...injections.map((value) => ({ path: "blue.image" as const, value, allowed: /must be a Docker image reference/ })),
  ...["https", "On", 1, "acme\n", "self-signed"].map((value) => ({ path: "tls.mode" as const, value, allowed: CHOICE("off", "selfSigned", "provided", "acme") })),
  { path: "tls.mode", value: "acme", allowed: /"acme" but the certificate has no name: set \S*tls.domains to the full DNS names clients use$/ },
  { path: "tls.mode", value: "acme", with: AWS, allowed: /"acme" but the certificate has no name: set \S*tls.domains .*, or \S*dns.name to a full name$/ },
  { path: "tls.mode", value: "provided", with: { "tls.privateKey": pem("key.pem") }, allowed: /is "provided" but \S*tls.certificate is not set: give the PEM certificate chain and its private key/ },
  { path: "tls.mode", value: "selfSigned", with: AWS, allowed: /"selfSigned" but the certificate has no name: set \S*tls.domains, or \S*dns.name to a full name$/ },
  {
    path: "tls.mode",
    value: "acme",
    with: { ...AWS, "tls.domains": ["app.example.com"], listenPort: 8080 },
    allowed: /is "acme" but \S*listenPort is 8080: the CA validates each name over plain HTTP on port 80; set \S*listenPort to 80$/,
  },
  ...[0, 70000, "https", 1.5].map((value) => ({ path: "tls.port" as const, value, with: { "tls.mode": "selfSigned" }, allowed: WHOLE(1, 65535) })),
  { path: "tls.port", value: 22, with: { "tls.mode": "selfSigned" }, allowed: /is 22: that is the port of SSH; choose another, e.g. 443 or 8443$/ },
  { path: "tls.port", value: 8080, with: { "tls.mode": "selfSigned" }, allowed: /are both 8080: they must differ$/ },
  { path: "tls.port", value: 8443, allowed: /is set but \S*tls.mode is "off": it applies only to mode "selfSigned" or "provided" or "acme"$/ },
  ...[-1, 63_072_001, "1y", 1.5, "max-age=1"].map((value) => ({ path: "tls.hsts" as const, value, with: { "tls.mode": "selfSigned" }, allowed: WHOLE(0, 63072000) })),
  ...[["bad name"], ["10.0.0.1"], ["app.example.com\nx"], ["*.example.com"], "app.example.com"].map((value) => ({
    path: "tls.domains" as const,
    value,
    with: { "tls.mode": "selfSigned" },
    allowed: /must be (a DNS name|a JSON list of full DNS names)/,
  })),
  { path: "tls.domains", value: ["www"], with: { "tls.mode": "selfSigned" }, allowed: /must be a full DNS name such as "app.example.com"$/ },
  { path: "tls.domains", value: ["a.example.com", "a.example.com"], with: { "tls.mode": "acme" }, allowed: /repeats .*: list each one once$/ },
  { path: "tls.domains", value: ["localhost"], with: { "tls.mode": "acme" }, allowed: /lists "localhost": an ACME CA issues only for public DNS names$/ },
  ...["nobody", "a@b", "x y@example.com", "ops@example.com\nx"].map((value) => ({
    path: "tls.acme.email" as const,
    value,
    with: { "tls.mode": "acme", "tls.domains": ["app.example.com"] },
    allowed: /must be an email address such as "ops@example.com"$/,
  })),
  { path: "tls.acme.email", value: "ops@example.com", with: { "tls.mode": "selfSigned" }, allowed: /it applies only to mode "acme"$/ },
  { path: "tls.mode", value: "acme", with: { "tls.domains": ["app.example.com"], "tls.acme.email": "ops@example.com" }, allowed: /is "acme" but \S*tls.acme.image is not set: name an image with lego, socat and a shell for the ACME client's container \(docs\/https\.md has a Dockerfile\)$/ },
  { path: "tls.mode", value: "acme", with: { "tls.domains": ["app.example.com"] }, allowed: /is "acme" but \S*tls.acme.email is not set: give the address the CA's account is registered with$/ },
  ...injections.map((value) => ({
    path: "tls.acme.image" as const,
    value,
    with: { "tls.mode": "acme", "tls.domains": ["app.example.com"], "tls.acme.email": "ops@example.com" },
    allowed: /must be a Docker image reference/,
  })),
  { path: "tls.acme.image", value: "registry.example.com/ops/acme:1", with: { "tls.mode": "selfSigned" }, allowed: /it applies only to mode "acme"$/ },
  ...["http://acme.example/dir", "https://a b/dir", "ftp://acme.example", "https://acme.example/d;rm -rf", "https://acme.example/$(x)", "https://-x/dir"].map((value) => ({
    path: "tls.acme.directory" as const,
    value,
    with: { "tls.mode": "acme", "tls.domains": ["app.example.com"], "tls.acme.email": "ops@example.com" },
    allowed: /must be an https URL of an ACME directory/,
  })),
  ...["not a certificate", pem("key.pem"), pem("chain.pem").replace("MII", "MIX"), `${pem("chain.pem")}\nextra`].map((value) => ({
    path: "tls.certificate" as const,
    value,
    secret: true,
    with: { "tls.mode": "provided", "tls.privateKey": pem("key.pem") },
    allowed: /(is not a PEM certificate|has a malformed certificate in block \d) \(value hidden\): it must be PEM/,
  })),
  { path: "tls.certificate", value: pem("expired-chain.pem"), secret: true, with: { "tls.mode": "provided", "tls.privateKey": pem("expired-key.pem") }, allowed: /its server certificate expired on 2021-01-01T00:00:00.000Z: give a certificate that is valid now$/ },
  { path: "tls.certificate", value: pem("chain.pem").split(/(?<=-----END CERTIFICATE-----\n)/).reverse().join(""), secret: true, with: { "tls.mode": "provided", "tls.privateKey": pem("key.pem") }, allowed: /list the chain in order, the server's certificate first$/ },
  { path: "tls.certificate", value: pem("chain.pem"), secret: true, with: { "tls.mode": "selfSigned" }, allowed: /it applies only to mode "provided"$/ },
  { path: "tls.privateKey", value: pem("other-key.pem"), secret: true, with: { "tls.mode": "provided", "tls.certificate": pem("chain.pem") }, allowed: /does not match \S*tls.certificate \(values hidden\): give the private key of the certificate's public key$/ },
  ...[pem("chain.pem"), "not-a-pem-value", pem("key.pem").replace("MI", "M!"), pem("key.pem").replace("PRIVATE KEY-----\n", "PRIVATE KEY-----\nAAAA")].map((value) => ({
    path: "tls.privateKey" as const,
    value,
    secret: true,
    with: { "tls.mode": "provided", "tls.certificate": pem("chain.pem") },
    allowed: /is (not a PEM private key|a malformed private key) \(value hidden\): it must be one unencrypted PEM private key/,
  })),
  ...["yes", 1, "on"].map((value) => ({ path: "preview.enabled" as const, value, allowed: /must be true or false$/ })),
  ...(["bluePort", "greenPort"] as const).flatMap((key) => [
    ...[0, 70000, "http", 1.5].map((value) => ({ path: `preview.${key}` as const, value, allowed: WHOLE(1, 65535) })),
    { path: `preview.${key}` as const, value: 22, with: { "preview.enabled": true }, allowed: /is 22: that is the port of SSH; choose another/ },
    { path: `preview.${key}` as const, value: 8080, with: { "preview.enabled": true }, allowed: /and \S*listenPort are both 8080: they must differ$/ },
    { path: `preview.${key}` as const, value: 8404, with: { "preview.enabled": true }, allowed: /and \S*statsPort are both 8404: they must differ$/ },
  ]),
  { path: "preview.greenPort", value: 8081, with: { "preview.enabled": true }, allowed: /preview\.bluePort and \S*preview\.greenPort are both 8081: they must differ$/ },
  ...[["10.0.0.1/8"], ["everyone"], ["::/129"], "10.0.0.0/8", ["10.0.0.0/8\nx"]].map((value) => ({
    path: "preview.allowedCidrs" as const,
    value,
    allowed: /(must be a CIDR block|has host bits set|must be a JSON list of CIDR blocks)/,
  })),
  { path: "preview.allowedCidrs", value: ["10.0.0.0/8", "10.0.0.0/8"], allowed: /repeats .*: list each one once$/ },
  ...["5", "1 s", "2d", "-1s", "25h", "1.5s"].map((value) => ({ path: "drain.timeout" as const, value, allowed: DURATION })),
  { path: "drain.timeout", value: "25h", with: AWS, allowed: DURATION },
  // Second hardening round: values that widened exposure, or could not work.
  ...(["blue", "green"] as const).flatMap((color) => [
    ...[["[1:2:3]:80"], ["[1:2:3:4:5:6:7:8:9]:80"], ["[fe80::1%eth0]:80"], ["[::1::2]:80"], ["1:2:3:80"]].map((value) => ({
      path: `${color}.servers` as const,
      value,
      allowed: /must be "host:port" with a DNS name/,
    })),
    ...[["0.0.0.0:80"], ["[::]:80"], ["[0:0:0:0:0:0:0:0]:8080"], ["255.255.255.255:80"]].map((value) => ({
      path: `${color}.servers` as const,
      value,
      allowed: /names no server: it must be "host:port" .*, the address the server answers on$/,
    })),
    { path: `${color}.servers` as const, value: ["[::1]:80", "[0:0:0:0:0:0:0:1]:80"], allowed: /repeats .*\[0\] \("\[::1\]:80"\): list each one once$/ },
    { path: `${color}.servers` as const, value: ["app.internal:80", "APP.internal.:80"], allowed: /repeats .*\[0\] \("app\.internal:80"\): list each one once$/ },
    { path: `${color}.image` as const, value: `registry.example.com/${"a".repeat(240)}:1`, allowed: /names a repository of 261 characters: Docker allows at most 255/ },
  ]),
  { path: "green.servers", value: ["[0:0:0:0:0:ffff:a00:5]:80"], with: { "blue.servers": ["10.0.0.5:80"] }, allowed: /both list "10\.0\.0\.5:80": each server belongs to one color$/ },
  { path: "green.servers", value: ["[2001:DB8::0:1]:443"], with: { "blue.servers": ["[2001:db8::1]:443"] }, allowed: /both list "\[2001:db8::1\]:443": each server belongs to one color$/ },
  { path: "green.servers", value: ["App.Internal.:80"], with: { "blue.servers": ["app.internal:80"] }, allowed: /both list "app\.internal:80": each server belongs to one color$/ },
  ...[["::1/64"], ["2001:db8::1/32"], ["fe80::1/10"]].map((value) => ({ path: "aws.ingressCidrs" as const, value, with: AWS, allowed: /has host bits set; the network is "[0-9a-f:]+\/\d+"$/ })),
  { path: "aws.ingressCidrs", value: ["2001:db8::1/32"], with: AWS, allowed: /the network is "2001:db8::\/32"$/ },
  ...[["fd00::1/8"], ["::1/0"]].map((value) => ({ path: "preview.allowedCidrs" as const, value, allowed: /has host bits set/ })),
  { path: "preview.allowedCidrs", value: ["::ffff:10.0.0.1/104"], allowed: /has host bits set; the network is "::ffff:a00:0\/104"$/ },
  { path: "aws.ingressCidrs", value: [], with: AWS, allowed: /is empty: list who may reach the distributor/ },
  { path: "preview.allowedCidrs", value: [], allowed: /is empty: list who may reach the previews/ },
  { path: "aws.subnetIds", value: [], with: { ...AWS, "aws.vpcId": "vpc-0123456789abcdef0" }, allowed: /is empty: list at least one subnet ID$/ },
  {
    path: "preview.allowedCidrs",
    value: Array.from({ length: 257 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`),
    allowed: /lists 257 blocks: at most 256; list wider blocks$/,
  },
  {
    path: "aws.ingressCidrs",
    value: Array.from({ length: 31 }, (_, i) => `10.0.${i}.0/24`),
    with: { ...AWS, "tls.mode": "selfSigned", "tls.domains": ["app.example.com"] },
    allowed: /\(31 IPv4 blocks × the listen and HTTPS ports\) need 62 inbound rules in the distributor's security group: AWS allows 60 per address family by default/,
  },
  {
    path: "preview.allowedCidrs",
    value: Array.from({ length: 30 }, (_, i) => `10.1.${i}.0/24`),
    with: { ...AWS, "preview.enabled": true },
    allowed: /\(30 IPv4 blocks × 2 preview ports\) need 61 inbound rules/,
  },
  ...["host", "none", "bridge"].map((value) => ({ path: "docker.network" as const, value, allowed: /name a user-defined network \(`docker network create`\), or leave it unset/ })),
  ...["haproxy:3.2-alpine", "haproxy:alpine", "registry.example.com/ops/haproxy:3.2.26-alpine3.22", "haproxy:lts-alpine@sha256:" + "a".repeat(64)].map((value) => ({
    path: "distributor.image" as const,
    value,
    allowed: /an Alpine-based image has no perl, which the delivery and the release gate use to reach HAProxy's runtime API; use a Debian-based tag/,
  })),
  { path: "distributor.image", value: `haproxy/${"h".repeat(250)}:3.2`, allowed: /names a repository of 258 characters/ },
  { path: "tls.port", value: 8081, with: { "tls.mode": "selfSigned", "preview.enabled": true }, allowed: /preview\.bluePort and \S*tls\.port are both 8081: they must differ$/ },
  { path: "preview.greenPort", value: 8443, with: { "tls.mode": "selfSigned", "preview.enabled": true }, allowed: /preview\.greenPort and \S*tls\.port are both 8443: they must differ$/ },
  ...["https://acme.example:99999/dir", "https://acme.example:0/dir"].map((value) => ({
    path: "tls.acme.directory" as const,
    value,
    with: { "tls.mode": "acme", "tls.domains": ["app.example.com"], "tls.acme.email": "ops@example.com" },
    allowed: /its port \d+ is not from 1 to 65535; must be an https URL of an ACME directory/,
  })),
  {
    path: "tls.domains",
    value: Array.from({ length: 101 }, (_, i) => `n${i}.example.com`),
    with: { "tls.mode": "acme", "tls.acme.email": "ops@example.com", "tls.acme.image": "registry.example.com/ops/acme:1" },
    allowed: /lists 101 names: a certificate holds at most 100 \(Let's Encrypt's limit\)/,
  },
  {
    path: "dns.aliases",
    value: Array.from({ length: 300 }, (_, i) => `n${i}.example.com`),
    with: { ...AWS, "dns.zoneId": "Z0123456789ABC", "dns.name": "app.example.com", "tls.mode": "acme", "tls.acme.email": "ops@example.com" },
    allowed: /dns\.name and \S*dns\.aliases are 301 full names, which the certificate would hold: at most 100/,
  },
  { path: "statsPassword", value: undefined, secret: true, allowed: /is not set: the stats page and \/metrics answer every container on the distributor's network, so they always ask for a password/ },
];


/** What `pulumi config set KEY VALUE` stores: text, with lists as JSON. */
function configText(value: unknown): string {
  return typeof value === "string" ? value : Array.isArray(value) ? JSON.stringify(value) : String(value);
}

function entries(bad: BadInput): Array<[SettingPath, unknown]> {
  return [...(Object.entries(bad.with ?? {}) as Array<[SettingPath, unknown]>), [bad.path, bad.value]];
}

function check(error: unknown, label: string, bad: BadInput): true {
  assert.ok(error instanceof SettingsError, `not a SettingsError: ${String(error)}`);
  assert.ok(error.message.includes(label), `"${error.message}" does not name ${label}`);
  assert.match(error.message, bad.allowed);
  if (bad.secret) assert.ok(!error.message.includes(String(bad.value)), `"${error.message}" shows the secret`);
  return true;
}

describe(`bad input (${cases.length} values, each through args and stack config)`, () => {
  it(`has at least 150 bad values`, () => assert.ok(cases.length >= 150, `${cases.length}`));

  for (const bad of cases) {
    const shown = JSON.stringify(bad.value) ?? String(bad.value);
    const title = `${bad.path} = ${bad.secret ? "(secret)" : shown.length > 100 ? `${shown.slice(0, 100)}… (${shown.length} characters)` : shown}`;
    it(`arg ${title}`, async () => {
      const label = ARG_LABELS[bad.path];
      assert.throws(() => new TrafficDistributor("shop", argsAt(entries(bad))), (e: unknown) => check(e, label, bad));
      await settled();
      assert.deepStrictEqual(registered, [], "a resource was registered");
    });
    it(`config ${title}`, () => {
      const values = Object.fromEntries(
        entries(bad)
          .filter(([, value]) => value !== undefined)
          .map(([path, value]) => [`traffic-distributor:${CONFIG_KEYS[path]}`, configText(value)]),
      );
      assert.throws(() => readStackConfig(configSourceFromMap(values)), (e: unknown) => check(e, CONFIG_LABELS[bad.path], bad));
    });
  }
});

describe("secrets never appear in an error", () => {
  /** The parts of a value that are secret: a PEM's base64 body, or the whole text. */
  const secretParts = (value: string) => {
    const body = value.split("\n").filter((line) => line !== "" && !line.startsWith("-----"));
    return body.length > 0 ? body : [value];
  };
  /** Fails when any 12 characters in a row of the secret are in the message. */
  const assertHidden = (message: string, value: string) => {
    for (const part of secretParts(value)) {
      for (let i = 0; i + 12 <= part.length; i++) {
        assert.ok(!message.includes(part.slice(i, i + 12)), `the message shows part of the secret: ${message.slice(0, 300)}`);
      }
    }
  };
  const key = pem("key.pem");
  const otherKey = pem("other-key.pem");
  const chain = pem("chain.pem");
  const password = "Correct-Horse-9";
  /** Each secret key: a good value, another good one, and wrong ones (malformed, too long, a neighbour's value). */
  const secrets: Record<string, { good: string; other: string; wrong: string[]; with: Partial<Record<SettingPath, unknown>> }> = {
    statsPassword: { good: password, other: "Battery-Staple-7", wrong: ["short-1", `${password} with space`, `${password}'`, "p".repeat(129), "p".repeat(100_000)], with: {} },
    "tls.privateKey": {
      good: key,
      other: otherKey,
      wrong: [otherKey, key.replace("MI", "M!"), key.repeat(40), chain, `${key}\n${key}`],
      with: { "tls.mode": "provided", "tls.certificate": chain },
    },
    "tls.certificate": {
      good: chain,
      other: pem("expired-chain.pem"),
      wrong: [pem("expired-chain.pem"), chain.replace("MII", "MIX"), key, chain.repeat(200)],
      with: { "tls.mode": "provided", "tls.privateKey": key },
    },
  };
  let messages = 0;
  after(() => console.log(`      ${messages} error messages scanned for ${Object.keys(secrets).length} secret keys`));

  for (const [path, secret] of Object.entries(secrets) as Array<[SettingPath, (typeof secrets)[string]]>) {
    it(`${path}: set twice with different values, wrong, or too long, through args and stack config`, async () => {
      const configKey = CONFIG_KEYS[path];
      const [root, ...rest] = configKey.split(".");
      const withConfig = Object.fromEntries(Object.entries(secret.with).map(([p, v]) => [`traffic-distributor:${CONFIG_KEYS[p as SettingPath]}`, configText(v)]));
      const failures: Array<[string, () => unknown]> = [];
      if (rest.length > 0) {
        // The flat key and the --path object: both forms, different values.
        failures.push([
          "twice",
          () =>
            readStackConfig(
              configSourceFromMap({ ...withConfig, [`traffic-distributor:${configKey}`]: secret.good, [`traffic-distributor:${root}`]: JSON.stringify({ [rest.join(".")]: secret.other }) }),
            ),
        ]);
      }
      for (const wrong of secret.wrong) {
        failures.push(["arg", () => new TrafficDistributor("shop", argsAt([...(Object.entries(secret.with) as Array<[SettingPath, unknown]>), [path, wrong]]))]);
        failures.push(["config", () => readStackConfig(configSourceFromMap({ ...withConfig, [`traffic-distributor:${configKey}`]: wrong }))]);
      }
      for (const [how, attempt] of failures) {
        let message: string | undefined;
        try {
          attempt();
        } catch (error) {
          message = String((error as Error).message);
        }
        assert.ok(message !== undefined, `${how}: accepted`);
        assert.ok(message.includes(path) || message.includes(configKey), `${how}: "${message.slice(0, 200)}" does not name ${path}`);
        for (const value of [secret.good, secret.other, ...secret.wrong]) assertHidden(message, value);
        messages++;
      }
      await settled();
    });
  }
});

describe("input checks beyond single values", () => {
  it("rejects unknown argument names at run time, at every level", () => {
    const unknown: Array<[unknown, RegExp]> = [
      [{ weigths: { blue: 1 } }, /^unknown argument weigths: the arguments are target, weight, routing, failover, /],
      [{ blue: { imgae: "nginx:1.27" } }, /^unknown argument blue.imgae: the arguments of blue are image, replicas, port, servers, memoryMb$/],
      [{ timeouts: { sever: "5s" } }, /^unknown argument timeouts.sever: the arguments of timeouts are connect, client, server, tunnel, drain$/],
      [{ target: "aws", aws: { dns: { zone: "Z1" } } }, /^unknown argument aws.dns.zone: the arguments of aws.dns are zoneId, name, ttl, aliases, recordType, takeOver$/],
      [{ weights: 5 }, /^weights is number: must be an object with blue, green$/],
      [{ healthCheck: "/healthz" }, /^healthCheck is string: must be an object with path, host, interval, timeout, expectStatus$/],
    ];
    for (const [args, message] of unknown) {
      assert.throws(() => new TrafficDistributor("shop", args as TrafficDistributorArgs), (e: Error) => e instanceof SettingsError && message.test(e.message));
    }
  });

  it("checks the component name, which names containers, DNS labels and HAProxy sections", async () => {
    for (const name of ["my shop", "shop_1", "-shop", "shop-", "x".repeat(41), "shop\nx", ""]) {
      assert.throws(
        () => new TrafficDistributor(name, { statsPassword: STATS_PASSWORD }),
        /^SettingsError: the component name is .*: must be 1 to 40 letters, digits and hyphens/,
        JSON.stringify(name),
      );
    }
    await settled();
    assert.deepStrictEqual(registered, []);
    assert.doesNotThrow(() => new TrafficDistributor("Shop-2", { statsPassword: STATS_PASSWORD }));
  });

  it("checks a stats password that arrives as a secret Output when it resolves, without showing it", async () => {
    const td = new TrafficDistributor("shop", { statsPassword: pulumi.secret("bad pass'\n  stats admin if TRUE") });
    const failure = await new Promise<Error | undefined>((resolve) => {
      // The config never renders; the Output rejects with the component's error.
      (td.haproxyConfig as any).promise().then(() => resolve(undefined), resolve);
    });
    assert.ok(failure, "the config rendered with a bad password");
    assert.match(failure.message, /statsPassword is not allowed \(value hidden\)/);
    assert.ok(!failure.message.includes("bad pass"));
  });

  it("reports NaN as NaN, not null", () => {
    assert.throws(() => new TrafficDistributor("shop", { statsPassword: STATS_PASSWORD, weights: { blue: NaN, green: 1 } }), /weights.blue is NaN: must be/);
  });

  it("refuses two Docker distributors in one program on the same host port, before registering the second", async () => {
    new TrafficDistributor("one", { statsPassword: STATS_PASSWORD, listenPort: 8090, statsPort: 8490 });
    await settled();
    const before = registered.length;
    assert.throws(
      () => new TrafficDistributor("two", { statsPassword: STATS_PASSWORD, listenPort: 8090, statsPort: 8491 }),
      /^SettingsError: listenPort is 8090, which the TrafficDistributor "one" in this program already publishes on the Docker host/,
    );
    assert.throws(() => new TrafficDistributor("three", { statsPassword: STATS_PASSWORD, listenPort: 8092, statsPort: 8490 }), /statsPort is 8490, which the TrafficDistributor "one"/);
    await settled();
    assert.strictEqual(registered.length, before);
    assert.doesNotThrow(() => new TrafficDistributor("four", { statsPassword: STATS_PASSWORD, listenPort: 8093, statsPort: 8493 }));
  });
});

describe("the previous release's arg names", () => {
  const PASSWORD = { statsPassword: STATS_PASSWORD };
  const renamed: Array<[TrafficDistributorArgs, TrafficDistributorArgs]> = [
    [{ weights: { blue: 0, green: 7 } }, { weight: { blue: 0, green: 7 } }],
    [{ routing: "failover", failoverPrimary: "green" }, { routing: "failover", failover: { primary: "green" } }],
    [{ distributorImage: "haproxy:3.2.26" }, { distributor: { image: "haproxy:3.2.26" } }],
    [{ distributorMemoryMb: 512 }, { distributor: { memoryMb: 512 } }],
    [{ distributorThreads: 3 }, { distributor: { threads: 3 } }],
    [{ distributorMaxConnections: 999 }, { distributor: { maxConnections: 999 } }],
  ];

  it("each old name gives the settings its new name gives", () => {
    for (const [old, now] of renamed) {
      const settings = validateTrafficDistributorArgs({ ...PASSWORD, ...old });
      assert.deepStrictEqual(settings, validateTrafficDistributorArgs({ ...PASSWORD, ...now }), JSON.stringify(old));
      assert.notDeepStrictEqual(settings, validateTrafficDistributorArgs(PASSWORD), `${JSON.stringify(old)} changed nothing`);
    }
  });

  it("an error names the setting as the program wrote it", () => {
    const wrong: Array<[TrafficDistributorArgs, RegExp]> = [
      [{ weights: { blue: 300, green: 1 } }, /^weights\.blue is 300: /],
      [{ weight: { blue: 300, green: 1 } }, /^weight\.blue is 300: /],
      [{ weights: { blue: 0, green: 0 } }, /^weights\.blue and weights\.green are both 0/],
      [{ failoverPrimary: "red" as "blue", routing: "failover" }, /^failoverPrimary is "red": /],
      [{ failover: { primary: "red" as "blue" }, routing: "failover" }, /^failover\.primary is "red": /],
      [{ distributorImage: "haproxy:3.4-alpine" }, /^distributorImage is "haproxy:3\.4-alpine": an Alpine-based image/],
      [{ distributor: { image: "haproxy:3.4-alpine" } }, /^distributor\.image is "haproxy:3\.4-alpine": an Alpine-based image/],
      [{ distributorMemoryMb: 8 }, /^distributorMemoryMb is 8: /],
      [{ distributor: { threads: 65 } }, /^distributor\.threads is 65: /],
      [{ distributorMaxConnections: 20_000 }, /^distributorMaxConnections is 20000: distributor\.memoryMb \(256 MiB\) holds 12288/],
    ];
    for (const [args, message] of wrong) {
      assert.throws(() => validateTrafficDistributorArgs({ ...PASSWORD, ...args }), (e: Error) => e instanceof SettingsError && message.test(e.message), JSON.stringify(args));
    }
  });

  it("refuses an old name beside its new one, and the component warns for each old name", async () => {
    for (const [old, now] of renamed) {
      const [oldName] = Object.keys(old).filter((key) => key !== "routing");
      assert.throws(
        () => validateTrafficDistributorArgs({ ...PASSWORD, ...now, ...old }),
        (e: Error) => e instanceof SettingsError && e.message.startsWith(`${oldName} and `) && /is the previous name of \S+; keep \S+ only$/.test(e.message),
        oldName,
      );
    }
    const warnings: string[] = [];
    const warn = pulumi.log.warn;
    pulumi.log.warn = (message: string) => {
      warnings.push(message);
      return Promise.resolve();
    };
    try {
      new TrafficDistributor("renamed", { ...PASSWORD, weights: { blue: 1, green: 2 }, distributorMemoryMb: 300, listenPort: 18280, statsPort: 18281 });
      new TrafficDistributor("current", { ...PASSWORD, weight: { blue: 1, green: 2 }, distributor: { memoryMb: 300 }, listenPort: 18282, statsPort: 18283 });
      await settled();
    } finally {
      pulumi.log.warn = warn;
    }
    assert.deepStrictEqual(warnings.map((w) => w.split(":")[0]), ["weights is deprecated", "distributorMemoryMb is deprecated"]);
    assert.match(warnings[0], /it is now weight, the name of its stack config key/);
  });
});

describe("stack config: the two forms the CLI writes", () => {
  const source = (values: Record<string, unknown>) =>
    configSourceFromMap(Object.fromEntries(Object.entries({ statsPassword: STATS_PASSWORD, ...values }).map(([k, v]) => [`traffic-distributor:${k}`, v])));

  it("is an error when the flat key and the --path object hold different values, naming both", () => {
    // stacks/Pulumi.local.yaml pins the flat keys; `pulumi config set --path weight.blue 0` writes the object.
    assert.throws(
      () => readStackConfig(source({ "weight.blue": "50", "weight.green": "50", weight: '{"blue":0}' })),
      /^SettingsError: traffic-distributor:weight.blue is set twice with different values: "50" as a flat key and 0 inside traffic-distributor:weight \(set with --path\)\. Keep one: `pulumi config rm weight.blue` or `pulumi config rm --path weight.blue`$/,
    );
  });

  it("lets the flat key win over an object that only holds Pulumi.yaml's default, and agrees when both are equal", () => {
    assert.deepStrictEqual(readStackConfig(source({ "weight.blue": "0", weight: { blue: 50, green: 50 } })).settings.weights, { blue: 0, green: 50 });
    assert.deepStrictEqual(readStackConfig(source({ "weight.blue": "7", weight: '{"blue":7}' })).settings.weights, { blue: 7, green: 50 });
  });

  it("ignores the docker-only default of Pulumi.yaml on aws, and refuses one set on purpose", () => {
    assert.strictEqual(readStackConfig(source({ target: "aws", distributor: { image: "haproxy:3.2.9", memoryMb: 256 } })).settings.docker, undefined);
    assert.throws(() => readStackConfig(source({ target: "aws", "distributor.memoryMb": "512" })), /traffic-distributor:distributor.memoryMb is set but traffic-distributor:target is "aws"/);
  });
});

const argsAt = (entries: Array<[SettingPath, unknown]>) => argsAtPaths(entries) as TrafficDistributorArgs;
