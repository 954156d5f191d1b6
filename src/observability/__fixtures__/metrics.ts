// What the Prometheus and OTLP metrics tests share: metrics that have counted a little traffic.
import { PRIORITIES } from "../../events/priority.ts";
import { Metrics } from "../metrics.ts";

/**
 * Metrics (without Node's default ones) that counted two "Terminal shell in container" events (Notice,
 * syscall), matched by the rule "Shell", whose action "Label" (kubernetes:label) succeeded once and failed
 * once; with that rule and action, to count more.
 */
export function shellCounted() {
  const m = new Metrics({ defaultMetrics: false });
  const rule = { name: "Shell" };
  const action = { name: "Label", actionnerName: "kubernetes:label" };
  m.countEvent("Terminal shell in container", PRIORITIES.indexOf("Notice"), "syscall");
  m.countEvent("Terminal shell in container", PRIORITIES.indexOf("Notice"), "syscall");
  m.countMatch(rule, "Terminal shell in container");
  m.countAction(rule, action, "success");
  m.countAction(rule, action, "failure");
  return { m, rule, action };
}
