// `kestrel completion bash|zsh|fish`: a completion script generated from the command tree itself (the
// shell is an argument, as in Talon's cobra CLI).
import type { Command } from "commander";

export const SHELLS = ["bash", "zsh", "fish"];

interface Node {
  /** "" for the program, else the command path ("rules", "rules test"). */
  readonly path: string;
  readonly command: Command;
}

/** Every command below the program, depth first. */
function commandsOf(program: Command): Node[] {
  const out: Node[] = [];
  const walk = (cmd: Command, path: string): void => {
    for (const sub of cmd.commands) {
      const p = path === "" ? sub.name() : `${path} ${sub.name()}`;
      out.push({ path: p, command: sub });
      walk(sub, p);
    }
  };
  walk(program, "");
  return out;
}

/** The long options of a command (global ones excluded: they are offered everywhere). */
function optionWords(cmd: Command): string[] {
  return cmd.options.filter((o) => !o.hidden && o.long !== undefined).map((o) => o.long!);
}

/** The subcommands, and the shells for `completion`. */
function subcommandWords(cmd: Command): string[] {
  return cmd.name() === "completion" && cmd.parent?.parent === null ? SHELLS : cmd.commands.map((c) => c.name());
}

/** Single quotes for a shell word. */
function shq(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/** The completion script for `shell`; the commands and options come from the program's command tree. */
export function completionScript(program: Command, shell: string): string {
  if (shell === "bash") return bashScript(program);
  if (shell === "zsh") return zshScript(program);
  if (shell === "fish") return fishScript(program);
  throw new Error(`unsupported shell "${shell}" (${SHELLS.join(", ")})`);
}

function bashScript(program: Command): string {
  const top = subcommandWords(program).join(" ");
  // The command path is the words before the cursor that are not options or option values.
  const cases = commandsOf(program)
    .map((n) => {
      const words = [...subcommandWords(n.command), ...optionWords(n.command)].join(" ");
      return `    ${shq(n.path)}) words="${words}" ;;`;
    })
    .join("\n");
  return `# kestrel bash completion: source <(kestrel completion bash)
_kestrel() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmdpath="" w i words
  case $prev in
    -c|--config|-r|--rules|--expect) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    --format) COMPREPLY=( $(compgen -W "text json" -- "$cur") ); return ;;
  esac
  for (( i = 1; i < COMP_CWORD; i++ )); do
    w=\${COMP_WORDS[i]}
    case $w in
      -c|--config|-r|--rules|--expect|--format) (( i++ )) ;;
      -*) ;;
      *) cmdpath="\${cmdpath:+$cmdpath }$w" ;;
    esac
  done
  case $cmdpath in
    '') words="${top}" ;;
${cases}
    *) words="" ;;
  esac
  COMPREPLY=( $(compgen -W "$words -c -r --help" -- "$cur") )
  case $cmdpath in 'rules test') COMPREPLY+=( $(compgen -f -- "$cur") ) ;; esac
}
complete -F _kestrel kestrel
`;
}

function zshScript(program: Command): string {
  const top = subcommandWords(program).join(" ");
  const cases = commandsOf(program)
    .filter((n) => subcommandWords(n.command).length > 0 || optionWords(n.command).length > 0)
    .map((n) => `    ${shq(n.path)}) compadd -- ${[...subcommandWords(n.command), ...optionWords(n.command)].join(" ")} ;;`)
    .join("\n");
  return `#compdef kestrel
# kestrel zsh completion: source <(kestrel completion zsh)
_kestrel() {
  local cmdpath="" i
  case $words[CURRENT-1] in
    -c|--config|-r|--rules|--expect) _files; return ;;
    --format) compadd -- text json; return ;;
  esac
  for (( i = 2; i < CURRENT; i++ )); do
    case $words[i] in
      -c|--config|-r|--rules|--expect|--format) (( i++ )) ;;
      -*) ;;
      *) cmdpath="\${cmdpath:+$cmdpath }$words[i]" ;;
    esac
  done
  case $cmdpath in
    '') compadd -- ${top} -c -r --help ;;
${cases}
    *) _files ;;
  esac
}
compdef _kestrel kestrel
`;
}

function fishScript(program: Command): string {
  const lines = [
    "# kestrel fish completion: kestrel completion fish | source",
    "complete -c kestrel -f",
    `complete -c kestrel -s c -l config -r -F -d ${shq("configuration file")}`,
    `complete -c kestrel -s r -l rules -r -F -d ${shq("rules file (repeatable)")}`,
  ];
  for (const sub of program.commands) {
    lines.push(`complete -c kestrel -n __fish_use_subcommand -a ${sub.name()} -d ${shq(firstLine(sub.description()))}`);
  }
  for (const n of commandsOf(program)) lines.push(...fishLinesOf(n));
  lines.push(`complete -c kestrel -n ${shq("__fish_seen_subcommand_from completion")} -a ${shq(SHELLS.join(" "))}`);
  lines.push(`complete -c kestrel -n ${shq("__fish_seen_subcommand_from rules; and __fish_seen_subcommand_from test")} -F`);
  return `${lines.join("\n")}\n`;
}

/** The fish completions under one command: its subcommands and its long options (with their choices). */
function fishLinesOf(n: Node): string[] {
  const lines: string[] = [];
  const cond = n.path
    .split(" ")
    .map((w) => `__fish_seen_subcommand_from ${w}`)
    .join("; and ");
  for (const sub of n.command.commands) {
    lines.push(`complete -c kestrel -n ${shq(cond)} -a ${sub.name()} -d ${shq(firstLine(sub.description()))}`);
  }
  for (const o of n.command.options) {
    if (o.hidden || o.long === undefined) continue;
    const choices = o.argChoices !== undefined ? ` -x -a ${shq(o.argChoices.join(" "))}` : o.required ? " -r -F" : "";
    lines.push(`complete -c kestrel -n ${shq(cond)} -l ${o.long.slice(2)}${choices} -d ${shq(firstLine(o.description))}`);
  }
  return lines;
}

function firstLine(s: string): string {
  const line = s.split("\n")[0] ?? "";
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}
