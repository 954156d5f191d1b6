// The two small languages inside `match`: an `output_fields` item ("k8s.ns.name!=kube-system, fd.rport=80")
// and a `tags` item ("container, shell"). Talon split these with strings.Split and silently dropped what
// did not parse (so `proc.cmdline=a=b` vanished and the rule matched every event); here every malformed
// piece is an error with its column, and a value may be quoted to hold `=` or `,`.

export type Operator = "=" | "!=";

export interface Condition {
  readonly key: string;
  readonly op: Operator;
  /** The value to compare with, quotes removed. */
  readonly value: string;
}

export interface SyntaxProblem {
  readonly message: string;
  /** Offset of the problem inside the item text (0-based). */
  readonly offset: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: SyntaxProblem[] };

// Falco field names: `proc.aname[2]`, `k8s.pod.label[app.kubernetes.io/name]`, `container.image.repository`,
// plugin fields with `_`, `-`, `:`.
const KEY = /^[A-Za-z0-9._\-/:[\]]+$/;
const SPACE = /\s/;

/** Parses one `output_fields` item into the conditions that must all hold. */
export function parseOutputFieldsItem(text: string): Parsed<Condition[]> {
  const conditions: Condition[] = [];
  const problems: SyntaxProblem[] = [];
  if (text.trim() === "")
    return { ok: false, problems: [{ message: "empty output_fields item: write key=value or key!=value", offset: 0 }] };
  let i = 0;
  for (;;) {
    const piece = parseCondition(text, i);
    if ("problem" in piece) problems.push(piece.problem);
    else conditions.push(piece.condition);
    if (piece.next >= text.length) break;
    i = piece.next + 1; // past the comma
    if (text.slice(i).trim() === "") {
      problems.push({ message: "empty condition after the last ','", offset: piece.next });
      break;
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: conditions };
}

type PieceResult = { condition: Condition; next: number } | { problem: SyntaxProblem; next: number };

/** One `key op value` starting at `start`; `next` is the offset of the comma ending it (or the end). */
function parseCondition(text: string, start: number): PieceResult {
  let i = skipSpaces(text, start);
  const keyStart = i;
  while (i < text.length && text[i] !== "=" && text[i] !== "!" && text[i] !== ",") i++;
  const key = text.slice(keyStart, i).trimEnd();
  const fail = (message: string, offset: number): PieceResult => ({ problem: { message, offset }, next: endOfPiece(text, i) });
  if (i >= text.length || text[i] === ",") {
    const piece = text.slice(keyStart, i).trim();
    return fail(piece === "" ? "empty condition" : `malformed condition '${piece}': expected key=value or key!=value`, keyStart);
  }
  if (text[i] === "!" && text[i + 1] !== "=") return fail(`malformed operator after '${key}': expected '!='`, i);
  const op: Operator = text[i] === "!" ? "!=" : "=";
  i += op.length;
  if (key === "") return fail(`empty key before '${op}'`, keyStart);
  if (!KEY.test(key))
    return fail(`invalid field key '${key}': keys are made of letters, digits, '.', '_', '-', '/', ':', '[' and ']'`, keyStart);
  return parseValue(text, skipSpaces(text, i), key, op);
}

function parseValue(text: string, start: number, key: string, op: Operator): PieceResult {
  const quote = text[start];
  if (quote === '"' || quote === "'") {
    const close = text.indexOf(quote, start + 1);
    if (close === -1) return { problem: { message: `unterminated ${quote} in the value of '${key}'`, offset: start }, next: text.length };
    const after = skipSpaces(text, close + 1);
    if (after < text.length && text[after] !== ",") {
      return { problem: { message: `unexpected text after the quoted value of '${key}'`, offset: after }, next: endOfPiece(text, after) };
    }
    return { condition: { key, op, value: text.slice(start + 1, close) }, next: after };
  }
  const end = endOfPiece(text, start);
  const value = text.slice(start, end).trim();
  const bad = value.search(/[="]/);
  if (bad !== -1) {
    const message = `malformed value '${value}' for '${key}': quote a value that holds '=', ',' or '"' (${key}${op}"…")`;
    return { problem: { message, offset: start + bad }, next: end };
  }
  return { condition: { key, op, value }, next: end };
}

/** Parses one `tags` item into the tags that must all be present. */
export function parseTagsItem(text: string): Parsed<string[]> {
  const tags: string[] = [];
  const problems: SyntaxProblem[] = [];
  let offset = 0;
  for (const raw of text.split(",")) {
    const tag = raw.trim();
    const at = offset + (raw.length - raw.trimStart().length);
    if (tag === "") problems.push({ message: "empty tag", offset: at });
    else if (SPACE.test(tag))
      problems.push({ message: `incorrect tag '${tag}': a tag has no spaces (separate tags with ',')`, offset: at });
    else tags.push(tag);
    offset += raw.length + 1;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: tags };
}

function skipSpaces(text: string, i: number): number {
  while (i < text.length && SPACE.test(text[i]!)) i++;
  return i;
}

function endOfPiece(text: string, i: number): number {
  const comma = text.indexOf(",", i);
  return comma === -1 ? text.length : comma;
}
