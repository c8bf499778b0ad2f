/**
 * A small argument parser: `--name value`, `--name=value` and boolean
 * `--flag`, plus positional arguments. Unknown options are errors.
 */
export interface ParsedArgs {
  positional: string[];
  options: Record<string, string | true>;
}

export function parseArgs(argv: string[], spec: { values?: string[]; flags?: string[] }): ParsedArgs {
  const values = new Set(spec.values ?? []);
  const flags = new Set(spec.flags ?? []);
  const out: ParsedArgs = { positional: [], options: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--") || arg === "--") {
      out.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (flags.has(name)) {
      out.options[name] = true;
    } else if (values.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new Error(`option --${name} needs a value`);
      out.options[name] = value;
    } else {
      throw new Error(`unknown option --${name}`);
    }
  }
  return out;
}
