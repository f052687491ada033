export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './logger.js';
