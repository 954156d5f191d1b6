// SIGUSR1, as Falco uses it for logrotate: one process-wide handler, shared by the file and program
// notifiers; every live one reopens its file or restarts its program.

const reopeners = new Set<() => void>();

function onSigusr1(): void {
  reopenOutputs();
}

/** What the SIGUSR1 handler does: every live file and program notifier reopens its file or restarts its
 * program. Exported so that tests (and an embedding application) can trigger it without a signal. */
export function reopenOutputs(): void {
  for (const reopen of [...reopeners]) reopen();
}

/** Registers `reopen` to run on SIGUSR1; the process listener exists once, while anything is registered.
 * Returns the function that unregisters it. */
export function onReopen(reopen: () => void): () => void {
  if (reopeners.size === 0) process.on("SIGUSR1", onSigusr1);
  reopeners.add(reopen);
  return () => {
    if (!reopeners.delete(reopen)) return;
    if (reopeners.size === 0) process.off("SIGUSR1", onSigusr1);
  };
}
