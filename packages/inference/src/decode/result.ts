/** What a generation gives back, whole or in streamed pieces. */

/**
 * Why a row ended: 'eos' an end token was generated, 'stop' a stop string appeared, 'length'
 * maxNewTokens or the model's context was reached, 'abort' the signal fired or the stream's
 * reader stopped.
 */
export type FinishReason = 'stop' | 'length' | 'eos' | 'abort';

export interface GenerationResult {
  /** The generated text (without the prompt, the EOS token or the stop string). */
  text: string;
  /**
   * Every generated id: an EOS token that ended the row is included, as is the token that
   * completed a stop string (the text ends before the stop string).
   */
  tokenIds: number[];
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
}

/**
 * A streamed piece: text that became final and the ids generated since the previous piece.
 * Text never ends inside a UTF-8 character, and the pieces' texts concatenate to the result's
 * text and their ids to its tokenIds. Only the last piece may have empty text (ids that added
 * none, such as EOS).
 */
export interface TextDelta {
  text: string;
  tokenIds: number[];
}
