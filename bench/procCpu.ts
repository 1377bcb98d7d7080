// CPU time and memory of a process group from /proc: a proxy's master and workers, without the
// load generator (wrk runs in its own group).
import * as fs from "fs";

const TICKS_PER_SECOND = 100; // Linux USER_HZ

function pidsOfGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name, which may itself hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      /* the process ended meanwhile */
    }
  }
  return pids;
}

/** utime + stime of every live process in the group, in microseconds. */
export function groupCpuMicros(pgid: number): number {
  let ticks = 0;
  for (const pid of pidsOfGroup(pgid)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      /* ended meanwhile */
    }
  }
  return (ticks * 1_000_000) / TICKS_PER_SECOND;
}

/** Resident memory of every process in the group, in KiB, by process. */
export function groupRssKib(pgid: number): Record<number, number> {
  const rss: Record<number, number> = {};
  for (const pid of pidsOfGroup(pgid)) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) rss[pid] = Number(m[1]);
    } catch {
      /* ended meanwhile */
    }
  }
  return rss;
}
