// Reads a Dockerfile into its stages and instructions (continuations joined, comments dropped, global ARGs
// expanded in FROM), so tests can check the image's recipe and run its exec-form command lines on the host.

export interface Instruction { keyword: string; args: string; line: number }
export interface Stage { from: string; name: string | undefined; instructions: Instruction[] }
export interface Dockerfile { args: Map<string, string>; stages: Stage[] }

export function parseDockerfile(text: string): Dockerfile {
  const logical: { text: string; line: number }[] = [];
  let pending: { text: string; line: number } | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && pending === undefined)) continue;
    const continues = trimmed.endsWith('\\');
    const part = continues ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending === undefined ? { text: part, line: i + 1 } : { text: `${pending.text} ${part}`, line: pending.line };
    if (!continues) {
      logical.push(pending);
      pending = undefined;
    }
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const { text: l, line } of logical) {
    const space = l.search(/\s/);
    const keyword = (space < 0 ? l : l.slice(0, space)).toUpperCase();
    const rest = space < 0 ? '' : l.slice(space + 1).trim();
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=', 2);
      args.set(name!, value ?? '');
    } else if (keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (m === null) throw new Error(`Dockerfile:${line}: FROM ${rest}`);
      const from = m[1]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? '');
      stages.push({ from, name: m[2], instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile:${line}: ${keyword} before FROM`);
      stages.at(-1)!.instructions.push({ keyword, args: rest, line });
    }
  }
  return { args, stages };
}

/** The instructions of one keyword in a stage. */
export function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** An exec-form (JSON array) argument list; the shell form is refused (signals would go to a shell, not node). */
export function execForm(args: string, what: string): string[] {
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`${what}: not an exec-form list: ${args}`);
  return parsed;
}

/** ENV key=value pairs of a stage (values without spaces or quotes, as ours are written). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions(stage, 'ENV')) {
    for (const pair of i.args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`Dockerfile:${i.line}: ENV ${pair} is not key=value`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** HEALTHCHECK's options and its exec-form command. */
export function healthcheckOf(stage: Stage): { options: Record<string, string>; command: string[] } {
  const [hc] = instructions(stage, 'HEALTHCHECK');
  if (hc === undefined) throw new Error('no HEALTHCHECK');
  const m = /^((?:--\S+\s+)*)CMD\s+(.*)$/.exec(hc.args);
  if (m === null) throw new Error(`Dockerfile:${hc.line}: HEALTHCHECK without CMD`);
  const options = Object.fromEntries(m[1]!.trim().split(/\s+/).filter(Boolean).map((o) => o.slice(2).split('=', 2) as [string, string]));
  return { options, command: execForm(m[2]!, 'HEALTHCHECK CMD') };
}
