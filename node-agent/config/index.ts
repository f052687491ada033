export { loadAgentConfig, parseAgentConfig, agentConfigSchema, AGENT_CONFIG_KEYS, type AgentConfig, type AgentConfigFile } from './agent-config.js';
export { describeConfigIssue, suggestKey, type KeyDescriptions } from './config-errors.js';
