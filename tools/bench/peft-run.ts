/**
 * One configuration of `npm run bench:peft`, in a process of its own so its peak RSS is its
 * own: `lmflow finetune` in-process with the given flags, then one JSON line with the
 * training tokens/s of each step (from metrics.jsonl) and the peak RSS (KiB).
 */
import path from 'node:path';
import { readMetrics, METRICS_FILE } from '@lmflow/train';
import { runCli } from '@lmflow/cli';

const { flags, outputDir } = JSON.parse(process.argv[2]!) as { flags: string[]; outputDir: string };
let stderr = '';
const status = await runCli(['finetune', ...flags, '--output_dir', outputDir, '--overwrite_output_dir'], {
  stdout: { write: () => true },
  stderr: { write: (chunk: string) => ((stderr += chunk), true) },
});
if (status !== 0) {
  process.stderr.write(stderr);
  process.exit(status);
}
const records = await readMetrics(path.join(outputDir, METRICS_FILE));
const rates = records.flatMap((r) => (typeof r.tokens_per_second === 'number' ? [r.tokens_per_second] : []));
console.log(JSON.stringify({ rates, maxRssKiB: process.resourceUsage().maxRSS }));
