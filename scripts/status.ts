// The status command lives in the package (components/cli/status.ts, `traffic-distributor status`); this runs it from a checkout.
export * from "../components/cli/status";
if (require.main === module) void import("../components/cli/main").then(({ runCli }) => runCli(["status", ...process.argv.slice(2)])).then((code) => (process.exitCode = code));
