// Answering a request whose body will not be read (refused by the guard, or over the body limit) and closing
// its connection without consuming the body. Closing a socket with unread bytes makes the kernel reset the
// connection, and a client still writing its body (Python's urllib, many Go clients write it all before
// reading) then never reads the answer. So the answer goes out at once, the body is read and dropped for a
// short while (a lingering close), and the connection is closed when the body ends, the budget of bytes is
// spent or the time is up, whichever comes first.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";

/** Body bytes read and dropped after a refusal, at most. */
export const LINGER_BYTES = 1024 * 1024;
/**
 * A body over the limit whose declared length ends within this many bytes is read to its end, so that a
 * client that writes it whole before reading gets its 413: the kernel's buffers hold a few MiB at most.
 */
export const LINGER_DECLARED_BYTES = 8 * 1024 * 1024;
/** How long a refused connection stays open, at most, after its answer. */
export const LINGER_MS = 2000;

/** The bytes to drop after a 413: the rest of a declared body that is not too large, else LINGER_BYTES. */
export function tooLargeBudget(declaredLength: number | undefined): number {
  return declaredLength !== undefined && declaredLength <= LINGER_DECLARED_BYTES ? Math.max(declaredLength, LINGER_BYTES) : LINGER_BYTES;
}

/**
 * Writes the whole answer (with `connection: close`) and ends the response, which makes node:http close the
 * connection, once the request's body has ended, `budget` more body bytes have arrived or LINGER_MS passed.
 */
export function answerAndClose(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  headers: OutgoingHttpHeaders,
  budget: number,
): void {
  if (res.headersSent) return;
  res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body), connection: "close" });
  res.write(body);
  let left = budget;
  const close = (): void => {
    clearTimeout(timer);
    req.removeListener("data", drop);
    if (!res.writableEnded) res.end();
  };
  const drop = (chunk: Buffer): void => {
    left -= chunk.length;
    if (left < 0) close(); // what is still unread is reset with the connection
  };
  const timer = setTimeout(close, LINGER_MS);
  res.once("close", () => clearTimeout(timer)); // the client went away first
  req.removeAllListeners("data");
  if (req.readableEnded) {
    close();
    return;
  }
  req.on("data", drop);
  req.once("end", close);
  req.resume();
}
