#!/bin/sh
":" //; exec node --initial-old-space-size=64 "$0" "$@"
// The line above is for sh, which runs this file again with Node and the flag (to JavaScript it is a string and a
// comment); `env -S` would say it more plainly, but BusyBox's env, as in Alpine images, has no -S. The old
// generation starts at 64 MB instead of growing from a few: with V8's default, a STOW-RS load of 128 kB instances
// ran a full garbage collection every 120 ms on a heap of 25 MB and stored 15% fewer instances a second
// (docs/configuration.md, "Node.js heap"). `npm start` and `npx atrium` run this file directly, so the flag applies;
// `node packages/server/bin/atrium.mjs` skips it.
import "../dist/cli.js";
