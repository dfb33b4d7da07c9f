// Leveled logger: one line per event, to stderr or an appended file, as text
// ("<time> INFO [primary] message") or, for log shippers, as one JSON object
// per line: {"time", "level", "node", "msg", ...fields}.
//
// A failed write to the log file (a full disk, a removed directory) never
// throws into the caller, which is often already handling a failure: the
// line goes to stderr instead, with one line saying why, and the file is
// tried again for every later line.
import { appendFileSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

/**
 * Machine-readable details of an event (`size`, `secondary`, `witness`, ...).
 * Only the json format writes them; the text message says the same in words.
 */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warning(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Names a json line's own keys; fields of these names are left out rather than overwrite them. */
const RESERVED = new Set(['time', 'level', 'node', 'msg']);

export function formatLogLine(format: LogFormat, time: Date, level: LogLevel, node: string, msg: string, fields?: LogFields): string {
  if (format === 'text') return `${time.toISOString()} ${level.toUpperCase()} ${node === '' ? '' : `[${node}] `}${msg}\n`;
  const record: Record<string, unknown> = { time: time.toISOString(), level, node, msg };
  if (fields !== undefined) {
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && !RESERVED.has(k)) record[k] = v;
  }
  return JSON.stringify(record) + '\n';
}

export function createLogger(level: LogLevel = 'info', file = '', component = '', format: LogFormat = 'text'): Logger {
  const min = RANK[level];
  let fileFailing = false;
  const toFile = (line: string): void => {
    try {
      appendFileSync(file, line);
      if (fileFailing) {
        fileFailing = false;
        process.stderr.write(formatLogLine(format, new Date(), 'info', component, `writing log lines to ${file} again`));
      }
    } catch (err) {
      if (!fileFailing) {
        fileFailing = true;
        const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        process.stderr.write(formatLogLine(format, new Date(), 'error', component, `cannot write to log file ${file} (${why}): writing log lines to stderr until it works again`));
      }
      process.stderr.write(line);
    }
  };
  const write = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[lvl] < min) return;
    const line = formatLogLine(format, new Date(), lvl, component, msg, fields);
    if (file === '') process.stderr.write(line);
    else toFile(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warning: (m, f) => write('warning', m, f),
    error: (m, f) => write('error', m, f),
  };
}
