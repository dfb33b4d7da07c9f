// Minimal leveled logger: one line per event, to stderr or an appended file.
import { appendFileSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string): void;
}

export function createLogger(level: LogLevel = 'info', file = '', component = ''): Logger {
  const min = RANK[level];
  const prefix = component === '' ? '' : `[${component}] `;
  const write = (lvl: LogLevel, msg: string): void => {
    if (RANK[lvl] < min) return;
    const line = `${new Date().toISOString()} ${lvl.toUpperCase()} ${prefix}${msg}\n`;
    if (file === '') process.stderr.write(line);
    else appendFileSync(file, line);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warning: (m) => write('warning', m),
    error: (m) => write('error', m),
  };
}
