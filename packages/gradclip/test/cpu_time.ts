// Hang guards in unit tests ("answers at once, not in minutes") count the CPU time this process
// spends — process.cpuUsage(), user + system over all its threads — not wall time, which other
// processes on a busy machine stretch. Speed itself is measured in the benchmarks, never here.
//
//   const t0 = process.cpuUsage();
//   work();
//   expect(cpuMs(t0)).toBeLessThan(1000);

/** CPU milliseconds this process has used since `since` (from `process.cpuUsage()`). */
export function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}
