#!/usr/bin/env node
// The `enigma-registry` command. A committed launcher rather than the compiled
// file itself, so npm links the command even where dist/ is built after
// install (npm ci in the repository runs the build as its last step).
import "../dist/client/src/cli.js";
