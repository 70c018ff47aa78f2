export { expectClose, maxRelativeError, toleranceFor, type Tolerance } from './close.js';
export { gradCheck, type GradCheckOptions } from './gradcheck.js';
export { randomInput, copyTo, type InputOptions } from './inputs.js';
