// Test helper: run the CLI from TypeScript sources (node --import tsx test/run-cli.ts ...).
import { main } from '../src/cli/main.js';
process.exitCode = await main(process.argv.slice(2), { isolate: true });
