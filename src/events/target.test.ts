// The event's pod, read as Talon does, except that an audit event's ka.target.name is a pod's name only
// when its target is a pod.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KestrelError } from "../errors.ts";
import { parseEvent } from "./parse.ts";
import { podNameOf, podTargetOf } from "./target.ts";

const ev = (fields: Record<string, unknown>) => parseEvent(JSON.stringify({ rule: "r", priority: "Notice", output_fields: fields })).event;

describe("podTargetOf", () => {
  it("takes k8s.pod.name first, then ka.target.pod.name, then ka.target.name of a pod target", () => {
    assert.deepEqual(podTargetOf(ev({ "k8s.pod.name": "web-1", "k8s.ns.name": "prod", "ka.target.name": "x" })), {
      pod: "web-1",
      namespace: "prod",
    });
    assert.deepEqual(podTargetOf(ev({ "ka.target.pod.name": "web-2", "ka.target.namespace": "prod" })), {
      pod: "web-2",
      namespace: "prod",
    });
    assert.deepEqual(podTargetOf(ev({ "ka.target.resource": "pods", "ka.target.name": "web-3", "ka.target.namespace": "prod" })), {
      pod: "web-3",
      namespace: "prod",
    });
    assert.equal(podNameOf(ev({ "ka.target.name": "web-4" })), "web-4");
  });

  it("does not take the name of a ConfigMap for a pod's, and says what is missing", () => {
    assert.equal(podNameOf(ev({ "ka.target.resource": "configmaps", "ka.target.name": "web", "ka.target.namespace": "prod" })), undefined);
    assert.throws(
      () => podTargetOf(ev({ "ka.target.resource": "configmaps", "ka.target.name": "web", "ka.target.namespace": "prod" })),
      (e: unknown) => e instanceof KestrelError && e.code === "ERR_PREFLIGHT" && /names no pod/.test(e.message),
    );
    assert.throws(
      () => podTargetOf(ev({ "k8s.pod.name": "web", "k8s.ns.name": null })),
      (e: unknown) => e instanceof KestrelError && /no namespace for the pod 'web'/.test(e.message),
    );
  });
});
