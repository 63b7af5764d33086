import type { Command } from '../command.js';
import { backendsCommand } from './backends.js';
import { demoCommand } from './demo.js';

/** Every CLI command, in the order `--help` lists them. Add new commands here. */
export const commands: Command[] = [demoCommand, backendsCommand];
