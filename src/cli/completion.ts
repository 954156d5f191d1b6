// `kestrel completion bash|zsh`: a completion script generated from the command tree itself.
import type { Command } from "commander";

function commandWords(program: Command): Map<string, string[]> {
  const words = new Map<string, string[]>();
  words.set("", program.commands.map((c) => c.name()));
  for (const c of program.commands) words.set(c.name(), c.commands.map((s) => s.name()));
  return words;
}

export function completionScript(program: Command, shell: string): string {
  const words = commandWords(program);
  const top = words.get("")!.join(" ");
  const cases = [...words]
    .filter(([k, v]) => k !== "" && v.length > 0)
    .map(([k, v]) => `    ${k}) COMPREPLY=( $(compgen -W "${v.join(" ")}" -- "$cur") ) ;;`)
    .join("\n");
  if (shell === "bash") {
    return `# kestrel bash completion: source <(kestrel completion bash)
_kestrel() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  if [[ $prev == -c || $prev == --config || $prev == -r || $prev == --rules ]]; then
    COMPREPLY=( $(compgen -f -- "$cur") ); return
  fi
  if (( COMP_CWORD == 1 )); then COMPREPLY=( $(compgen -W "${top} -c -r --help" -- "$cur") ); return; fi
  case \${COMP_WORDS[1]} in
${cases}
    *) COMPREPLY=( $(compgen -W "-c -r --help" -- "$cur") ) ;;
  esac
}
complete -F _kestrel kestrel
`;
  }
  if (shell === "zsh") {
    const sub = [...words]
      .filter(([k, v]) => k !== "" && v.length > 0)
      .map(([k, v]) => `    ${k}) compadd ${v.join(" ")} ;;`)
      .join("\n");
    return `#compdef kestrel
# kestrel zsh completion: source <(kestrel completion zsh)
_kestrel() {
  if (( CURRENT == 2 )); then compadd ${top}; return; fi
  case $words[2] in
${sub}
    *) _files ;;
  esac
}
compdef _kestrel kestrel
`;
  }
  throw new Error(`unsupported shell "${shell}" (bash or zsh)`);
}
