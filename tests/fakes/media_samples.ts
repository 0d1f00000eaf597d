/**
 * Media files for tests: the simulator's samples (`src/simulator/media_samples.ts`),
 * which the demo uses too.
 *
 * @module
 */
export * from "../../src/simulator/media_samples.ts";
