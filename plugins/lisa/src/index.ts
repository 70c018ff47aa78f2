/**
 * @lmflow/plugin-lisa: LISA. Trains a few randomly drawn decoder layers at a time (redrawn
 * every K steps) while embeddings and the LM head always train; frozen layers hold no
 * gradients or optimizer state.
 */
export { lisa, LISA_PLUGIN_NAME, type LisaOptions, type LisaPlugin, type LisaSwitch } from './lisa-plugin.js';
export { lisaOptions, lisaFromConfig } from './lisa-options.js';
export { sampleLayers } from './layer-sampler.js';
