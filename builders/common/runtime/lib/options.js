// Reads EB option settings (the JSON printed by `get-config optionsettings`, or a test
// file of the same shape) and writes two files for ebnode:
//   argv[3]: shell assignments for the platform options, single-quoted
//   argv[4]: the app's environment, in systemd EnvironmentFile syntax
// Defaults for unset options come from the DEFAULT_* environment variables.
'use strict';
const fs = require('fs');

const [, , input, optionsOut, envOut] = process.argv;
const settings = JSON.parse(fs.readFileSync(input, 'utf8') || '{}');
const custom = settings['aws:elasticbeanstalk:container:custom:nodejs'] || {};
const appEnv = settings['aws:elasticbeanstalk:application:environment'] || {};

const options = {
  NODE_VERSION_OPTION: ['NodeVersion', process.env.NODE_VERSION_BUILT || ''],
  NODE_COMMAND: ['NodeCommand', process.env.DEFAULT_NODE_COMMAND || ''],
  PROXY_SERVER: ['ProxyServer', process.env.DEFAULT_PROXY_SERVER || 'nginx'],
  APP_PORT: ['AppPort', process.env.DEFAULT_APP_PORT || '8080'],
  GZIP_COMPRESSION: ['GzipCompression', process.env.DEFAULT_GZIP_COMPRESSION || 'true'],
  PROCESS_MANAGER: ['ProcessManager', process.env.DEFAULT_PROCESS_MANAGER || 'pm2'],
};

const shQuote = (v) => "'" + String(v).replace(/'/g, "'\\''") + "'";
let sh = '';
for (const [name, [key, dflt]] of Object.entries(options)) {
  const v = Object.prototype.hasOwnProperty.call(custom, key) ? custom[key] : dflt;
  sh += `${name}=${shQuote(v)}\n`;
}
fs.writeFileSync(optionsOut, sh);

let env = '';
for (const [k, raw] of Object.entries(appEnv)) {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
    process.stderr.write(`ebnode: skipping environment property with invalid name '${k}'\n`);
    continue;
  }
  const v = String(raw).replace(/\r?\n/g, ' ').replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  env += `${k}="${v}"\n`;
}
fs.writeFileSync(envOut, env);
