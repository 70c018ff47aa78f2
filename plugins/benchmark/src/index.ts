/**
 * @lmflow/plugin-benchmark: evaluations during training (the trainer's evaluate hook, every
 * --eval_steps and at the end), and the LMFlow-benchmark style NLL suite on small text sets
 * written for this project.
 */
export { benchmark, BENCHMARK_PLUGIN_NAME, type BenchmarkOptions } from './benchmark-plugin.js';
export { benchmarkOptions, benchmarkFromConfig } from './benchmark-options.js';
export { BENCHMARK_SUITE, suiteSetPath, loadBenchmarkEntries, runBenchmarkSuite, formatBenchmarkTable, type SuiteSet, type BenchmarkRow, type BenchmarkEntry } from './suite.js';
