/**
 * LMFlow's dataset format, as its users' files hold it: `{"type": ..., "instances": [...]}`.
 * These types are the contract between readers (@lmflow/data), plugins that add formats, and
 * everything that consumes samples.
 */
export type DatasetType =
  | 'text_only'
  | 'text2text'
  | 'conversation'
  | 'paired_conversation'
  | 'text_to_scored_textlist'
  | 'image_text';

export const DATASET_TYPES: readonly DatasetType[] = [
  'text_only',
  'text2text',
  'conversation',
  'paired_conversation',
  'text_to_scored_textlist',
  'image_text',
];

export interface TextOnlyInstance {
  text: string;
}

export interface Text2TextInstance {
  input: string;
  output: string;
}

export type MessageRole = 'system' | 'user' | 'assistant' | 'tool' | 'function' | 'observation';

export interface ConversationMessage {
  role: MessageRole;
  content: string;
}

export interface ConversationInstance {
  conversation_id?: string | number;
  system?: string;
  /** Tool descriptions (JSON strings or objects), as LMFlow passes them to templates. */
  tools?: unknown[];
  messages: ConversationMessage[];
}

/** A preferred and a rejected conversation sharing a prompt (DPO, reward models). */
export interface PairedConversationInstance {
  chosen: ConversationInstance;
  rejected: ConversationInstance;
}

export interface ScoredText {
  text: string;
  score: number;
}

/** A prompt and candidate outputs with scores (RAFT). */
export interface TextToScoredTextlistInstance {
  input: string;
  output: ScoredText[];
}

/** An image (a path or URL, resolved by a multimodal plugin) with its text. */
export interface ImageTextInstance {
  images: string[];
  text: string;
}

export interface InstanceOf {
  text_only: TextOnlyInstance;
  text2text: Text2TextInstance;
  conversation: ConversationInstance;
  paired_conversation: PairedConversationInstance;
  text_to_scored_textlist: TextToScoredTextlistInstance;
  image_text: ImageTextInstance;
}

export type DatasetInstance = InstanceOf[DatasetType];

/** A loaded dataset: one type, its instances, and where each came from. */
export interface Dataset<T extends DatasetType = DatasetType> {
  type: T;
  instances: InstanceOf[T][];
  /** For each instance, the file and index it was read from (error messages, inspection). */
  origins: { file: string; index: number }[];
}
