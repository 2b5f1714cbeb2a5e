/**
 * Seeded, deterministic simulation of the MQTT broker core: many clients on in-memory
 * sockets (the real codec, connection, session, routing and flow control code runs), random
 * interleavings, a mocked clock, and the invariants MQTT guarantees checked throughout and at
 * the end (sim-model.ts, sim-client.ts). Each run prints its seed and replays exactly with it.
 *
 *   SIM_SEED=N        replay one run (with SIM_RUNS, runs N, N+1, ...)
 *   SIM_RUNS=N        number of runs (default 40; 1 when SIM_SEED is given)
 *   SIM_STEPS=N       random actions per run (default 500)
 *   SIM_TRACE=N       trace lines printed with a failure (default 400)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runSimulation, type SimOptions } from "./sim-world.ts";

const RUNS_DEFAULT = 40;
const STEPS_DEFAULT = 500;

function envInt(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  assert.ok(Number.isInteger(value) && value >= 0, `${name}=${text}: want an integer >= 0`);
  return value;
}

const givenSeed = envInt("SIM_SEED");
const baseSeed = givenSeed ?? (Date.now() ^ (process.pid << 16)) >>> 0;
const runs = envInt("SIM_RUNS") ?? (givenSeed === undefined ? RUNS_DEFAULT : 1);
const steps = envInt("SIM_STEPS") ?? STEPS_DEFAULT;

async function simulate(seed: number, options: SimOptions) {
  const result = await runSimulation(seed, options);
  if (result.violations.length > 0) {
    process.stdout.write(
      `# simulation seed=${seed} FAILED (replay with SIM_SEED=${seed})\n` +
        `# ${result.summary}\n# last events:\n${result.trace}\n`,
    );
  }
  return result;
}

for (let run = 0; run < runs; run++) {
  const seed = (baseSeed + run) >>> 0;
  test(`broker simulation seed=${seed}`, async () => {
    process.stdout.write(`# simulation seed=${seed} (replay with SIM_SEED=${seed})\n`);
    const result = await simulate(seed, { steps });
    process.stdout.write(`# seed=${seed} ${result.summary}\n`);
    assert.deepEqual(result.violations, [], `seed=${seed}: ${result.summary}`);
  });
}

// The checker is only worth its passes if it fails a broken broker: inject faults.
test("the simulation catches a broker fault: unbounded write buffer", async () => {
  // The broker gets no write limit; the checker holds it to the small one it drew.
  for (let i = 0; i < 16; i++) {
    const seed = (baseSeed + 0x2000 + i) >>> 0;
    process.stdout.write(`# simulation seed=${seed} fault=unbounded\n`);
    const result = await runSimulation(seed, { steps, fault: "unbounded", backpressure: true });
    if (result.violations.some((v) => v.includes("bytes unsent"))) return;
  }
  assert.fail("a broker without a write limit went unnoticed in 16 runs");
});

for (const fault of ["drop", "duplicate"] as const) {
  test(`the simulation catches a broker fault: ${fault}`, async () => {
    // A fault may hit a delivery nobody is owed (a subscription being removed): try a few runs.
    for (let i = 0; i < 8; i++) {
      const seed = (baseSeed + 0x1000 + i) >>> 0;
      process.stdout.write(`# simulation seed=${seed} fault=${fault}\n`);
      const result = await runSimulation(seed, { steps, fault });
      if (result.violations.length > 0) return;
    }
    assert.fail(`fault ${fault} went unnoticed in 8 runs`);
  });
}
