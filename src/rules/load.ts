// Loading rules files: read, parse, decode every item, merge duplicates across and within files in order,
// then resolve each rule's actions against the action blocks. Nothing here throws: every problem becomes a
// diagnostic with file:line:col, and the document holds whatever could be decoded, so that compiling it
// can report the remaining problems in the same run.
import { errorMessage } from "../errors.ts";
import { FileError, readRegularFile } from "../files.ts";
import { type Diagnostic, YamlSource } from "../yaml/source.ts";
import { decodeItem } from "./decode.ts";
import { diagnosticAtLoc, diagnosticInFile } from "./diagnostics.ts";
import { mergeBlocks, mergeRules } from "./merge.ts";
import { ItemReader } from "./reader.ts";
import { resolveRules } from "./resolve.ts";
import type { ActionSpec, RuleSpec, RulesDocument } from "./types.ts";

export interface LoadResult {
  document: RulesDocument;
  diagnostics: Diagnostic[];
  /** Files that could not be read or parsed; the document lacks their content entirely. */
  unreadable: string[];
}

export interface RulesText {
  file: string;
  text: string;
}

/** Reads and merges `files`, in the order given. */
export async function loadRulesFiles(files: readonly string[]): Promise<LoadResult> {
  const diagnostics: Diagnostic[] = [];
  if (files.length === 0) diagnostics.push(diagnosticInFile("<command line>", "ERR_RULES_INVALID", "no rules file is provided"));
  const unique = [...new Set(files)];
  if (unique.length < files.length) {
    // Merging a file with itself would append every rule's actions to themselves: each would run twice.
    const twice = unique.filter((f) => files.indexOf(f) !== files.lastIndexOf(f));
    for (const file of twice)
      diagnostics.push({
        ...diagnosticInFile(file, "ERR_RULES_INVALID", "this rules file is given more than once; it is loaded once"),
        severity: "warning",
      });
  }
  const read = await Promise.all(unique.map(readRulesFile));
  // In the order the files are given, whichever read finished first.
  for (const r of read) if (r.problem !== undefined) diagnostics.push(r.problem);
  const texts = read.map((r) => r.text);
  const result = loadRulesTexts(texts.filter((t) => t !== undefined));
  return {
    document: { ...result.document, files: unique },
    diagnostics: [...diagnostics, ...result.diagnostics],
    unreadable: [...unique.filter((_, i) => texts[i] === undefined), ...result.unreadable],
  };
}

async function readRulesFile(file: string): Promise<{ text?: RulesText; problem?: Diagnostic }> {
  try {
    // A regular file under the size cap: a FIFO would hang the load, a huge file exhaust memory.
    return { text: { file, text: (await readRegularFile(file)).toString("utf8") } };
  } catch (err) {
    const reason = err instanceof FileError ? err.reason : errorMessage(err);
    return { problem: diagnosticInFile(file, "ERR_RULES_INVALID", `cannot read the rules file: ${reason}`) };
  }
}

/** One rules file given as text (tests, stdin). */
export function loadRulesText(file: string, text: string): LoadResult {
  return loadRulesTexts([{ file, text }]);
}

/** Several rules files given as text, merged in order. */
export function loadRulesTexts(inputs: readonly RulesText[]): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const unreadable: string[] = [];
  const blocks: ActionSpec[] = [];
  const rules: RuleSpec[] = [];
  for (const { file, text } of inputs) {
    if (!decodeFile(file, text, diagnostics, blocks, rules)) unreadable.push(file);
  }
  const mergedBlocks = mergeBlocks(blocks, diagnostics);
  const mergedRules = resolveRules(mergeRules(rules), mergedBlocks, diagnostics);
  for (const rule of mergedRules) {
    // Talon's semantics (every criterion empty, so every event matches) are kept, but a rule that no file
    // gives a `match:` is rarely meant to act on every event.
    if (rule.fieldAt.has("match")) continue;
    const message = "the rule has no 'match': it matches every event (write 'match: {}' to say so)";
    diagnostics.push(diagnosticAtLoc(rule.at, "warning", "ERR_RULES_INVALID", message, { rule: rule.name }));
  }
  return {
    document: { files: inputs.map((i) => i.file), actions: mergedBlocks, rules: mergedRules },
    diagnostics,
    unreadable,
  };
}

/** Decodes one file's items into `blocks` and `rules`; false when the file could not be parsed. */
function decodeFile(file: string, text: string, diagnostics: Diagnostic[], blocks: ActionSpec[], rules: RuleSpec[]): boolean {
  const source = new YamlSource(file, text);
  const syntax = source.syntaxDiagnostics("ERR_RULES_INVALID");
  if (syntax.length > 0) {
    for (const d of syntax) diagnostics.push({ ...d, message: `wrong syntax for the rules file: ${d.message}` });
    return false;
  }
  const reader = new ItemReader(source, diagnostics);
  let items: unknown;
  try {
    items = source.toJS();
  } catch (err) {
    // Only an alias expanding beyond maxAliasCount (a "billion laughs" file) gets here.
    reader.error([], `wrong syntax for the rules file: ${errorMessage(err)}`);
    return false;
  }
  if (items === undefined || items === null) {
    reader.warning([], "the rules file is empty");
    return true;
  }
  if (!Array.isArray(items)) {
    reader.error([], "a rules file must be a YAML list of '- rule:' and '- action:' items");
    return true;
  }
  items.forEach((value: unknown, i) => {
    const item = decodeItem(reader, value, [i]);
    if (item?.kind === "action") blocks.push(item.spec);
    else if (item?.kind === "rule") rules.push(item.spec);
  });
  return true;
}
