export * from "./deployment";
export * from "./distributor";
export * from "./environment";
export * from "./acmeClient";
