/**
 * Ordering between plugins that tap the same hook: pass one of these as tapable's `stage`
 * (`hook.tap({ name, stage: STAGE_EARLY }, fn)`). Lower runs first; taps with the same stage
 * run in registration (plugin list) order.
 */
/** Before everything else: validation, input rewriting. */
export const STAGE_FIRST = -200;
/** Before ordinary plugins: e.g. quantization before LoRA wraps the quantized linear. */
export const STAGE_EARLY = -100;
/** The default for taps that name no stage. */
export const STAGE_NORMAL = 0;
/** After ordinary plugins: e.g. logging that should see final values. */
export const STAGE_LATE = 100;
/** After everything: reporting, teardown. */
export const STAGE_LAST = 200;
