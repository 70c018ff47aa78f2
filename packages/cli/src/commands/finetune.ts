/**
 * `lmflow finetune`: the finetune recipe of @lmflow/train with LMFlow's flags. Ctrl-C saves a
 * checkpoint at the end of the current step and exits (status 130); a second Ctrl-C exits at
 * once. A loss that turns NaN stops the run (status 1) keeping the last good checkpoint.
 */
import { createRuntime } from '@lmflow/core';
import { finetune, finetuneOptionGroups, type FinetuneConfig } from '@lmflow/train';
import { defineCommand } from '../command.js';
import { trainingPlugins } from '../training-plugins.js';

export const finetuneCommand = defineCommand({
  name: 'finetune',
  summary: 'Finetune a model on a dataset (full finetuning), with checkpoints and resume.',
  description:
    'Trains every parameter of a Hugging Face causal LM on an LMFlow dataset (text_only for continued pretraining, text2text or conversation for instruction tuning) and saves the result as a Hugging Face folder in --output_dir, with checkpoints (--save_steps), metrics.jsonl and report.html. Ctrl-C saves a checkpoint and stops; --resume_from_checkpoint auto continues.',
  examples: [
    'lmflow finetune --model_name_or_path models/stories260K --dataset_path data/alpaca --output_dir out/alpaca --block_size 256 --num_train_epochs 1',
    'lmflow finetune --config finetune.yaml --resume_from_checkpoint auto',
  ],
  options: [...finetuneOptionGroups, ...trainingPlugins.map((p) => p.options)],
  async run(config, { log }) {
    const controller = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts === 1) {
        log('\nCtrl-C: saving a checkpoint at the end of this step (press Ctrl-C again to stop without saving)');
        controller.abort();
      } else {
        log('stopped without saving');
        process.exit(130);
      }
    };
    process.on('SIGINT', onSigint);
    try {
      const plugins = trainingPlugins.flatMap((p) => p.fromConfig(config));
      const runtime = createRuntime({ plugins });
      const result = await finetune(config as unknown as FinetuneConfig, { signal: controller.signal, log, runtime });
      if (result.status === 'interrupted') {
        log(result.message ?? 'interrupted');
        return 130;
      }
      if (result.status === 'stopped') throw new Error(result.message ?? 'the run stopped');
      return 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
});
