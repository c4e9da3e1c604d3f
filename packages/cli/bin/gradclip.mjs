#!/usr/bin/env node
// The `gradclip` command: runs the built CLI (packages/cli/dist, made by `npm run build -w @gradclip/cli`).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
