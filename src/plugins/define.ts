// Identity helpers: they only exist so that TypeScript infers each plugin's parameter types from its schema
// (and an actionner's preflight state from what its preflight returns).
import type { Actionner, ContextProvider, Notifier, Output, ParamsSchema } from "./types.ts";

export function defineActionner<P extends ParamsSchema, S = void>(a: Omit<Actionner<P, S>, "kind">): Actionner<P, S> {
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
