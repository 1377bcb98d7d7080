// The render command lives in the package (components/cli/render.ts, `traffic-distributor render`); this runs it from a checkout.
export * from "../components/cli/render";
if (require.main === module) void import("../components/cli/main").then(({ runCli }) => runCli(["render", ...process.argv.slice(2)])).then((code) => (process.exitCode = code));
