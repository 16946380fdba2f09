// Shared by the code generators (gen-flatbuffers.mjs, gen-grpc-types.mjs): compares a fresh generation with the
// committed folder (`--check`, naming each stale file) or replaces the folder with it.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Every file under `dir`, as paths relative to it, sorted. */
export function listFiles(dir, prefix = '') {
  let files = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) files = files.concat(listFiles(full, path.join(prefix, entry)));
    else files.push(path.join(prefix, entry));
  }
  return files.sort();
}

/**
 * With `check`, exits 1 naming every file of `target` that is stale against `fresh` (relative path → text): differs,
 * missing or no longer generated; otherwise replaces `target` with `fresh`. `label` prefixes messages, `source` names
 * what the code is generated from, and `regenerate` is the command that fixes a stale folder.
 */
export function checkOrWrite({ target, targetName, fresh, check, label, source, regenerate }) {
  if (check) {
    const committed = existsSync(target) ? listFiles(target) : [];
    const stale = [
      ...committed.filter((f) => !fresh.has(f)).map((f) => `${f} (no longer generated)`),
      ...[...fresh.keys()].filter((f) => !committed.includes(f)).map((f) => `${f} (missing)`),
      ...committed.filter((f) => fresh.has(f) && fresh.get(f) !== readFileSync(path.join(target, f), 'utf8')).map((f) => `${f} (differs)`),
    ];
    if (stale.length > 0) {
      console.error(`${label}: ${targetName}/ differs from ${source}: ${stale.join(', ')}; run \`${regenerate}\``);
      process.exit(1);
    }
    console.log(`${label}: generated code matches ${source} (${fresh.size} files)`);
    return;
  }
  rmSync(target, { recursive: true, force: true });
  for (const [file, text] of fresh) {
    mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
    writeFileSync(path.join(target, file), text);
  }
  console.log(`${label}: wrote ${fresh.size} files to ${targetName}`);
}
