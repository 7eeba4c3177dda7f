// One graphile-worker runner for `paliadin-bench --compare graphile` (docs/performance.md).
// Env: DATABASE_URL, CONCURRENCY. One task, `hold`: prints `start <n> <unix ms>` the moment it
// is called, holds its slot for `payload.hold_ms` (the time one of our demo turns held a
// worker slot at the same rate), then prints `end <n>`. Prints `ready` once the runner is up.
import { setTimeout as holdFor } from "node:timers/promises";
import { Logger, run } from "graphile-worker";

const now = () => performance.timeOrigin + performance.now();
// Only warnings and errors, on stderr: the per-job info lines would cost more than the jobs.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile ${level}: ${message}`);
});

const runner = await run({
  connectionString: process.env.DATABASE_URL,
  concurrency: Number(process.env.CONCURRENCY ?? 8),
  logger,
  taskList: {
    hold: async (payload) => {
      process.stdout.write(`start ${payload.n} ${now().toFixed(3)}\n`);
      await holdFor(payload.hold_ms);
      process.stdout.write(`end ${payload.n}\n`);
    },
  },
});
process.stdout.write("ready\n");
await runner.promise;
