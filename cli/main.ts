import { Command } from 'commander';
import { registerAdapt } from './commands/adapt.js';
import { registerAgent } from './commands/agent.js';
import { registerCoordinator } from './commands/coordinator.js';
import { registerData } from './commands/data.js';
import { registerDemo } from './commands/demo.js';
import { registerKeys } from './commands/keys.js';
import { registerModel } from './commands/model.js';
import { registerReport } from './commands/report.js';
import { registerRound } from './commands/round.js';
import { registerSimulate } from './commands/simulate.js';
import { registerSite } from './commands/site.js';
import { registerStudy } from './commands/study.js';
import { registerStatus } from './commands/status.js';

const program = new Command();
program
  .name('medley')
  .description('Federated learning for hospital imaging consortia: no image leaves a hospital.')
  .version('0.1.0')
  .showHelpAfterError();

registerDemo(program);
registerSimulate(program);
registerStudy(program);
registerCoordinator(program);
registerAgent(program);
registerData(program);
registerRound(program);
registerStatus(program);
registerSite(program);
registerKeys(program);
registerModel(program);
registerReport(program);
registerAdapt(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`medley: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
