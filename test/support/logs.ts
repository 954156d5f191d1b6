// What a Kestrel log line says about its failure: Kestrel logs the error itself under `err` (pino's
// serializer keeps its type, message, stack and cause) and its code under `code`.

/** The message of the error a log line carries ("undefined" when it carries none). */
export function loggedError(line: Readonly<Record<string, unknown>>): string {
  const err = line["err"];
  return typeof err === "object" && err !== null ? String((err as { message?: unknown }).message) : String(err);
}
