export { parseNatsUrl, resolveNatsSettings, type NatsSettings, type NatsInput } from './nats-settings.js';
export { parseLogFormat, LOG_FORMATS, type LogFormat } from './log-format.js';
