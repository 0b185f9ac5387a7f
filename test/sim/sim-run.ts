/**
 * `npm run sim -- --seed S --frames N`: the long simulation run (long-run.ts). Prints its seed,
 * progress, and on a failing invariant the step and the command that replays it.
 */
import { InvariantError, longRun } from "./long-run.js";
import { errorMessage } from "../../src/foundation/errors.js";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function integer(name: string, fallback: number, max: number): number {
  const text = option(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    process.stderr.write(`--${name} ${text}: give an integer from 0 to ${max}\n`);
    process.exit(2);
  }
  return value;
}

const seed = integer("seed", Math.floor(Math.random() * 2 ** 31), 2 ** 32 - 1);
const frames = integer("frames", 1_000_000, 1_000_000_000);
const replay = `npm run sim -- --seed ${seed} --frames ${frames}`;
process.stdout.write(`simulation seed ${seed}, ${frames} frames (replay: ${replay})\n`);
const startedMs = Date.now();
try {
  const summary = await longRun({
    seed,
    frames,
    progressFrames: Math.max(10_000, Math.floor(frames / 100)),
    onProgress: (s) =>
      process.stdout.write(
        `seed ${seed}: ${s.frames}/${frames} frames, ${s.writesAcknowledged} writes acknowledged, ${s.readsVerified} reads verified, ${s.hostileFrames} hostile frames, ${s.lost} lost, ${s.retransmits} retransmits, ${(s.virtualMs / 1000).toFixed(1)} virtual s, ${Math.round(s.frames / ((Date.now() - startedMs) / 1000))} frames/s\n`,
      ),
  });
  process.stdout.write(`seed ${seed}: all invariants held: ${JSON.stringify(summary)}\n`);
} catch (error) {
  if (error instanceof InvariantError) {
    process.stderr.write(`seed ${seed}: ${error.message}\nreplay: ${replay}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(
      `seed ${seed}: the simulation failed: ${errorMessage(error)}\nreplay: ${replay}\n`,
    );
    process.exitCode = 3;
  }
}
