import { it } from "node:test";
import assert from "node:assert/strict";
it("x", (t) => { const a = performance.now(); const now = performance.now.bind(performance); t.mock.method(performance, "now", () => now() + 5000); assert.ok(performance.now() - a > 4999); });
