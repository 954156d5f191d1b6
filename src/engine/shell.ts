// Event values placed into shell scripts (local:command with `sh -c`, kubernetes:exec and :script) must stay
// data. Each `${VAR}` of a script is escaped for the place the shell reads it: as a bare word it is
// single-quoted whole (shellQuote); inside '…' every quote is closed, escaped and reopened; inside "…" the
// characters still special there (\ " $ `) get a backslash. Talon rules written either way (cat ${FD_NAME},
// cat '${FD_NAME}', cat "${FD_NAME}") therefore work unchanged and safely. Two places cannot be made safe
// and are refused by rules check: after a backslash (the value's first character would be taken
// literally, the rest not) and in a here-document (a line of the value could end the document).
import { shellQuote } from "./template.ts";

export type ShellPlace = "bare" | "single" | "double" | "backslash" | "heredoc";

/** Where the shell reads each `${VAR}` of the script, in order (as compileTemplate finds them). */
export function variablePlaces(text: string): { name: string; place: ShellPlace }[] {
  const found: { name: string; place: ShellPlace }[] = [];
  let quote: "'" | '"' | undefined;
  let heredoc = false;
  let wordStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "$" && text.startsWith("${", i + 1)) {
      i += 2; // `$${` is the template's literal `${`
      wordStart = false;
      continue;
    }
    if (c === "$" && text[i + 1] === "{") {
      const end = text.indexOf("}", i + 2);
      const place: ShellPlace = quote === "'" ? "single" : quote === '"' ? "double" : heredoc ? "heredoc" : "bare";
      found.push({ name: text.slice(i + 2, end === -1 ? undefined : end).trim(), place });
      i = end === -1 ? text.length : end;
      wordStart = false;
      continue;
    }
    if (quote === "'") {
      if (c === "'") quote = undefined;
      continue;
    }
    if (c === "\\") {
      if (text.startsWith("${", i + 1)) {
        const end = text.indexOf("}", i + 3);
        found.push({ name: text.slice(i + 3, end === -1 ? undefined : end).trim(), place: "backslash" });
        i = end === -1 ? text.length : end;
      } else i++;
      wordStart = false;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      continue;
    }
    if (c === "#" && wordStart) {
      const nl = text.indexOf("\n", i);
      i = nl === -1 ? text.length : nl - 1;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === "<" && text[i + 1] === "<" && text[i + 2] !== "<") heredoc = true;
    wordStart = /[\s;&|()]/.test(c);
  }
  return found;
}

/** rules check problems for the `${VAR}`s of a script that no escaping can keep data. */
export function unsafeVariableProblems(text: string, parameter: string): string[] {
  return variablePlaces(text)
    .filter((v) => v.place === "backslash" || v.place === "heredoc")
    .map(({ name, place }) => {
      const where = place === "backslash" ? "after a backslash" : "inside a here-document";
      return `\${${name}} is ${where} in '${parameter}', where an event value cannot be escaped: write it as a word (e.g. cat \${${name}})`;
    });
}

const inSingleQuotes = (v: string): string => v.replaceAll("'", `'"'"'`);
const inDoubleQuotes = (v: string): string => v.replace(/[\\"$`]/g, "\\$&");

const ESCAPERS: Record<ShellPlace, (v: string) => string> = {
  bare: shellQuote,
  single: inSingleQuotes,
  double: inDoubleQuotes,
  // Refused by rules check; quoted whole should a script reach here anyway.
  backslash: shellQuote,
  heredoc: shellQuote,
};

// Scripts come from the rules (a fixed set per load), so the cache stays small.
const cache = new Map<string, (value: string, index: number) => string>();

/** The escaper of a script's variables: `(value, index of the variable in the script)`. */
export function shellEscaper(script: string): (value: string, index: number) => string {
  let escaper = cache.get(script);
  if (escaper === undefined) {
    const places = variablePlaces(script).map((v) => ESCAPERS[v.place]);
    escaper = (value, index) => (places[index] ?? shellQuote)(value);
    if (cache.size > 10_000) cache.clear();
    cache.set(script, escaper);
  }
  return escaper;
}
