// Container settings every container of the Docker target shares.

/** Docker's json-file log driver with rotation: a chatty container cannot fill the host's disk. */
export const LOG_ROTATION = {
  logDriver: "json-file",
  logOpts: { "max-size": "10m", "max-file": "3" },
} as const;

/** No process in the container gains privileges through setuid binaries or file capabilities. */
export const NO_NEW_PRIVILEGES = "no-new-privileges";
