// Root postinstall. onnxruntime-node's own install script is denied in package.json's allowScripts:
// on linux/x64 it would download the CUDA execution provider (hundreds of MB) into every install,
// while the CPU build inferq runs by default ships in the package. With ONNXRUNTIME_NODE_INSTALL
// set (`ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`), this runs that script, which reads the variable.
// Plain JavaScript: it also runs in `npm ci --omit=dev`, where no TypeScript loader is installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const wanted = process.env.ONNXRUNTIME_NODE_INSTALL;
const packageDir = fileURLToPath(new URL('../node_modules/onnxruntime-node/', import.meta.url));
if (wanted && wanted !== 'skip' && existsSync(packageDir)) {
  console.log(`onnxruntime-node: installing ${wanted} (ONNXRUNTIME_NODE_INSTALL)`);
  const run = spawnSync(process.execPath, ['script/install'], { cwd: packageDir, stdio: 'inherit', env: process.env });
  process.exit(run.status ?? 1);
}
