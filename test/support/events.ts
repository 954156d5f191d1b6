// Falco events for tests, shaped like real Falco 0.39+ JSON alerts: output, priority, rule, time, output_fields,
// source, tags, hostname.
export interface EventOverrides {
  rule?: string;
  priority?: string;
  output?: string;
  source?: string;
  tags?: string[];
  fields?: Record<string, unknown>;
}

let counter = 0;

/** A Falco alert as JSON text; each call gets a distinct output unless `output` is given. */
export function falcoEvent(o: EventOverrides = {}): string {
  counter++;
  const rule = o.rule ?? "Terminal shell in container";
  const priority = o.priority ?? "Notice";
  return JSON.stringify({
    hostname: "node-1",
    output: o.output ?? `14:37:27.505989596: ${priority} A shell was spawned (n=${counter})`,
    output_fields: {
      "evt.time": 1735573264268296,
      "k8s.ns.name": "default",
      "k8s.pod.name": `nginx-${counter}`,
      "proc.name": "bash",
      ...o.fields,
    },
    priority,
    rule,
    source: o.source ?? "syscall",
    tags: o.tags ?? ["T1059", "container", "shell"],
    time: "2024-12-30T14:37:27.505989596Z",
  });
}
