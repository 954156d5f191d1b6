// The one polling helper of the tests: wait for a condition that something else makes true (a receiver's
// state, a log line, a metric, a process's output). Waiting for a fixed time instead makes a test slow when
// the machine is fast and flaky when it is slow.

export interface UntilOptions {
  /** Between two checks (ms). */
  readonly intervalMs?: number;
  /** Gives up at once with this reason when it returns one (the process that should act has exited, …). */
  readonly failIf?: () => string | undefined;
  /** Appended to the error when it gives up (the output so far, what was received, …). */
  readonly detail?: () => string;
}

/**
 * Resolves once `check` returns true, with the milliseconds it took; rejects when `timeoutMs` passes first
 * (`what` names the condition in the error).
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
  options: UntilOptions = {},
): Promise<number> {
  const started = Date.now();
  const fail = (reason: string): Error => {
    const detail = options.detail?.();
    return new Error(`${reason}${detail === undefined || detail === "" ? "" : `:\n${detail}`}`);
  };
  while (!(await check())) {
    const reason = options.failIf?.();
    if (reason !== undefined) throw fail(`${reason} while waiting for ${what}`);
    if (Date.now() - started > timeoutMs) throw fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 10));
  }
  return Date.now() - started;
}
