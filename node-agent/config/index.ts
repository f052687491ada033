export { loadAgentConfig, parseAgentConfig, agentConfigSchema, AGENT_CONFIG_KEYS, AGENT_SETTINGS, type AgentConfig, type AgentConfigFile } from './agent-config.js';
