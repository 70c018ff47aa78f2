/**
 * Reading JSON and JSON Lines files with errors that name the file, line and column.
 * `JSON.parse` is linear in the input and reports only a character position; the line and
 * column are computed from it once, when there is an error.
 */
import { readFile } from 'node:fs/promises';
import { DatasetError } from './dataset-error.js';

export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file or folder' : code === 'EISDIR' ? 'is a folder, expected a file' : (error as Error).message;
    throw new DatasetError({ file }, `cannot read: ${reason}`, { cause: error });
  }
}

export function parseJsonText(text: string, file: string): unknown {
  // A byte-order mark is not JSON, but editors on Windows write one.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(source);
  } catch (error) {
    const message = (error as Error).message;
    const position = jsonErrorPosition(message, source);
    const { line, column } = lineColumnAt(source, position);
    throw new DatasetError({ file }, `invalid JSON at line ${line}, column ${column}: ${message}`, { cause: error });
  }
}

/** Each non-blank line parsed as JSON; errors name the line. Returns the values and their line numbers. */
export function parseJsonLines(text: string, file: string): { values: unknown[]; lines: number[] } {
  const values: unknown[] = [];
  const lines: number[] = [];
  let start = 0;
  let lineNumber = 1;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    if (line.trim() !== '') {
      try {
        values.push(JSON.parse(lineNumber === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line));
        lines.push(lineNumber);
      } catch (error) {
        throw new DatasetError({ file }, `invalid JSON on line ${lineNumber}: ${(error as Error).message}`, { cause: error });
      }
    }
    start = end + 1;
    lineNumber++;
  }
  return { values, lines };
}

function jsonErrorPosition(message: string, source: string): number {
  const match = /at position (\d+)/.exec(message);
  if (match) return Number(match[1]);
  // "Unexpected end of JSON input" has no position: the end is where it went wrong.
  return source.length;
}

export function lineColumnAt(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(position, text.length);
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: end - lineStart + 1 };
}
