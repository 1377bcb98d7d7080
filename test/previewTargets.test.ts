// Preview per color on both targets (mocks): the published ports, the port claims, the security
// group rules from preview.allowedCidrs, the preview records with Host routing, previewUrls.
import * as assert from "assert";
import * as aws from "../components/aws";
import { TrafficDistributor, TrafficDistributorArgs } from "../components";
import { deployOnAws } from "./awsDeploy";
import { promiseOf, registered, settled, only, STATS_PASSWORD } from "./mocks";

const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:local:Command";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const RECORD = "aws:route53/record:Record";
const INSTANCE = "aws:ec2/instance:Instance";
const PARAMETER = "aws:ssm/parameter:Parameter";

const plain = (value: any): any => (value && typeof value === "object" && "value" in value ? value.value : value);

describe("preview per color on the targets (mocks)", () => {
  async function onDocker(name: string, args: TrafficDistributorArgs) {
    const td = new TrafficDistributor(name, { ...args, statsPassword: args.statsPassword ?? STATS_PASSWORD });
    await promiseOf(td.distributor.deliveryReport as any);
    await settled();
    return td;
  }

  it("docker: publishes each color's preview port and renders its listener; previewUrls on localhost", async () => {
    const td = await onDocker("shop", { preview: { enabled: true, greenPort: 9092 } });
    const ports = only(CONTAINER, "shop-distributor").inputs.ports;
    assert.deepStrictEqual(ports.slice(2), [
      // IPv4 alone: through Docker's userland proxy an IPv6 client would arrive from the gateway.
      { internal: 8081, external: 8081, ip: "0.0.0.0" },
      { internal: 8082, external: 9092, ip: "0.0.0.0" },
    ]);
    assert.deepStrictEqual(await promiseOf(td.previewUrls), { blue: "http://localhost:8081/", green: "http://localhost:9092/" });
    const config = only(COMMAND, "shop-distributor-config").inputs.stdin as string;
    assert.match(config, /\nfrontend preview_blue\n {4}bind \*:8081\n {4}acl preview_allowed src 10\.0\.0\.0\/8 172\.16\.0\.0\/12 192\.168\.0\.0\/16 127\.0\.0\.0\/8 fc00::\/7 ::1\/128\n {4}tcp-request connection reject unless preview_allowed\n/);
    assert.match(config, /\nbackend preview_green_replicas\n(?: {4}.*\n)* {4}server green_shop-green-0-[0-9a-f]{8} shop-green-0-[0-9a-f]{8}:80 track app\/green_shop-green-0-[0-9a-f]{8} /);
  });

  it("docker: off by default, with nothing published or rendered for it", async () => {
    const td = await onDocker("shop", {});
    assert.strictEqual(only(CONTAINER, "shop-distributor").inputs.ports.length, 2);
    assert.strictEqual(await promiseOf(td.previewUrls), undefined);
    assert.doesNotMatch(only(COMMAND, "shop-distributor-config").inputs.stdin as string, /preview/);
  });

  it("docker: a preview port another distributor of the program publishes is refused before anything registers", async () => {
    await onDocker("one", { listenPort: 9000, statsPort: 9001 });
    registered.length = 0;
    assert.throws(
      () => new TrafficDistributor("two", { statsPassword: STATS_PASSWORD, listenPort: 9100, statsPort: 9101, preview: { enabled: true, bluePort: 9000 } }),
      /preview\.bluePort is 9000, which the TrafficDistributor "one" in this program already publishes on the Docker host/,
    );
    assert.deepStrictEqual(registered, []);
  });

  it("aws with dns: security group rules per port from allowedCidrs, blue./green. records, Host routing, previewUrls by name", async () => {
    const td = await deployOnAws("shop", {
      preview: { enabled: true, allowedCidrs: ["10.0.0.0/8", "fd00::/8"] },
      aws: { dns: { zoneId: "Z0123456789ABCDEFGHIJ", name: "app.example.com" } },
    });
    const rules = registered.filter((r) => r.type === INGRESS && r.name.includes("-preview-")).map((r) => [r.name, r.inputs.fromPort, r.inputs.toPort, r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6]);
    assert.deepStrictEqual(rules, [
      ["shop-distributor-preview-blue-in-0", 8081, 8081, "10.0.0.0/8"],
      ["shop-distributor-preview-blue-in-1", 8081, 8081, "fd00::/8"],
      ["shop-distributor-preview-green-in-0", 8082, 8082, "10.0.0.0/8"],
      ["shop-distributor-preview-green-in-1", 8082, 8082, "fd00::/8"],
    ]);
    const records = registered.filter((r) => r.type === RECORD).map((r) => [r.name, r.inputs.name, r.inputs.type]);
    assert.deepStrictEqual(records, [
      ["shop-distributor-record", "app.example.com", "A"],
      ["shop-distributor-record-blue.app.example.com", "blue.app.example.com", "A"],
      ["shop-distributor-record-green.app.example.com", "green.app.example.com", "A"],
    ]);
    assert.match(only(INSTANCE, "shop-distributor").inputs.userData, /--publish 8081:8081 --publish 8082:8082 /);
    const config = aws.decodeConfigParameter(plain(only(PARAMETER, "shop-distributor-config").inputs.value));
    assert.match(config, /\nfrontend public\n {4}bind \*:8080\n {4}option forwardfor\n {4}acl preview_allowed src 10\.0\.0\.0\/8 fd00::\/8\n {4}acl preview_proxied src 172\.17\.0\.1\n {4}acl preview_blue_host hdr\(host\),field\(1,:\) -i blue\.app\.example\.com\n {4}http-request deny deny_status 403 if preview_blue_host !preview_allowed \|\| preview_blue_host preview_proxied\n {4}use_backend preview_blue_replicas if preview_blue_host\n/);
    assert.deepStrictEqual(await promiseOf(td.previewUrls), { blue: "http://blue.app.example.com/", green: "http://green.app.example.com/" });
  });

  it("aws without dns: the preview ports on the Elastic IP, no record", async () => {
    const td = await deployOnAws("shop", { preview: { enabled: true } });
    // Each preview port open to the documented default: the private and loopback ranges, and no other source.
    const ranges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7", "::1/128"];
    const rules = registered.filter((r) => r.type === INGRESS && r.name.includes("-preview-")).map((r) => [r.inputs.fromPort, r.inputs.toPort, r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6]);
    assert.deepStrictEqual(rules, [8081, 8082].flatMap((port) => ranges.map((range) => [port, port, range])));
    assert.strictEqual(registered.filter((r) => r.type === RECORD).length, 0);
    const urls = await promiseOf(td.previewUrls);
    const ip = await promiseOf(td.publicIp);
    assert.deepStrictEqual(urls, { blue: `http://${ip}:8081/`, green: `http://${ip}:8082/` });
  });
  it("refuses an empty preview.allowedCidrs, naming the key", () => {
    assert.throws(() => new TrafficDistributor("shop", { statsPassword: STATS_PASSWORD, preview: { enabled: true, allowedCidrs: [] } }), /^SettingsError: preview\.allowedCidrs is empty: list who may reach the previews/);
  });
});
