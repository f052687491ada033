/**
 * The directives of a systemd unit file as `Section.Key -> values` (a key given twice keeps both
 * values, in order), so tests can check what a unit sets without matching raw text. Follows
 * systemd's syntax for what our units use: [Section] headers, `#`/`;` comments, `\` line
 * continuations. systemd-analyze (in systemd-units.test.ts) is the judge of validity; this only reads.
 */
export function unitDirectives(text: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  let section = '';
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`unit line without "=": ${line}`);
    const key = `${section}.${line.slice(0, eq).trim()}`;
    directives.set(key, [...(directives.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return directives;
}
