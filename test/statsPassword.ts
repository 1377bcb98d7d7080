/** The stats password the tests' distributors use: every distributor needs one. */
export const STATS_PASSWORD = "test-stats-pass-1";
