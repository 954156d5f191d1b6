// Which shell variables hold event values: a variable assigned from a value-carrying word carries one, and
// so do the variables that `read`, `for`, `printf -v`, `declare` and `set --` fill from one. The analysis
// (shell-commands.ts) then refuses every place where such a variable would be evaluated.
import { basename } from "node:path";
import { assignedValue, assignment, skipKeywords, type Taint } from "./shell-analysis.ts";
import { EMPTY, literalOf, type SimpleCommand, type Word } from "./shell-syntax.ts";

/** What taint tracking needs of the analysis: the taint it extends, and which words carry a value. */
export interface ValueTracker {
  readonly taint: Taint;
  carries(word: Word): boolean;
}

type Tainter = (name: string, args: Word[], t: ValueTracker) => void;

/** Follows values into variables: assignments, read, for. */
export function followValues(c: SimpleCommand, t: ValueTracker): void {
  if (c.kind !== "simple") return;
  const words = skipKeywords(c.words);
  let i = 0;
  for (; i < words.length; i++) {
    const asg = assignment(words[i]!);
    if (asg === undefined) break;
    if (t.carries(assignedValue(words[i]!))) t.taint.names.add(asg);
  }
  const name = literalOf(words[i] ?? EMPTY);
  if (name === undefined) return;
  TAINTERS.get(basename(name))?.(name, words.slice(i + 1), t);
}

/** `for v in list`, `select v in list`, and `for v` (over "$@"). */
const loopVariable: Tainter = (_name, args, t) => {
  const v = literalOf(args[0] ?? EMPTY);
  const list = args.slice(2);
  if (v !== undefined && (list.some((w) => t.carries(w)) || (args.length === 1 && t.taint.positional))) t.taint.names.add(v);
};

/** read, mapfile, getopts: what they read may be the event itself (local:command writes it on stdin). */
const readsInput: Tainter = (name, args, t) => {
  for (const w of args) {
    const n = literalOf(w);
    if (n !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) t.taint.names.add(n);
  }
  if (args.length === 0 || name === "read") t.taint.names.add("REPLY").add("MAPFILE");
};

/** declare, export, local…: their `NAME=value` arguments assign like plain assignments. */
const declares: Tainter = (_name, args, t) => {
  for (const w of args) {
    const asg = assignment(w);
    if (asg !== undefined && t.carries(assignedValue(w))) t.taint.names.add(asg);
  }
};

const TAINTERS = new Map<string, Tainter>([
  ["for", loopVariable],
  ["select", loopVariable],
  ["read", readsInput],
  ["mapfile", readsInput],
  ["readarray", readsInput],
  ["getopts", readsInput],
  ["declare", declares],
  ["typeset", declares],
  ["local", declares],
  ["export", declares],
  ["readonly", declares],
  [
    "set",
    (_name, args, t) => {
      if (args.some((w) => t.carries(w))) t.taint.positional = true; // set -- "$x" makes $1 a value
    },
  ],
  [
    "printf",
    (_name, args, t) => {
      const v = args.findIndex((w) => literalOf(w) === "-v");
      const target = v === -1 ? undefined : literalOf(args[v + 1] ?? EMPTY);
      if (target !== undefined && args.some((w) => t.carries(w))) t.taint.names.add(target);
    },
  ],
]);
