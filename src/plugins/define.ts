// Identity helpers: they only exist so that TypeScript infers each plugin's parameter types from its schema.
import type { Actionner, ContextProvider, Notifier, Output, ParamsSchema } from "./types.ts";

export function defineActionner<P extends ParamsSchema>(a: Omit<Actionner<P>, "kind">): Actionner<P> {
  return { kind: "actionner", ...a };
}

export function defineOutput<P extends ParamsSchema>(o: Omit<Output<P>, "kind">): Output<P> {
  return { kind: "output", ...o };
}

export function defineNotifier<P extends ParamsSchema>(n: Omit<Notifier<P>, "kind">): Notifier<P> {
  return { kind: "notifier", ...n };
}

export function defineContext<P extends ParamsSchema>(c: Omit<ContextProvider<P>, "kind">): ContextProvider<P> {
  return { kind: "context", ...c };
}
