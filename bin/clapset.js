#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so there is no build step between a checkout and a run.
import { register } from 'tsx/esm/api';

// The lockfile pins an AWS SDK that supports Node 20; its notice about later releases needing Node 22
// would otherwise open every command's output (the README says so once). An operator's own setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
await import('../cli/main.ts');
